/** Telegram and network errors as log fields. */

/** Short description of a Telegram or network error for logs (never the request payload). */
export function errorSummary(error: unknown): Record<string, unknown> {
  const response = (error as { response?: { error_code?: number; description?: string } } | null)?.response;
  if (response) return { code: response.error_code, description: response.description };
  return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}
