/**
 * Reads a CloudFormation template written in YAML, for tests, with the `yaml` package. The
 * short-form intrinsic function tags (`!Ref`, `!Sub`, `!GetAtt`, ...) become their long form
 * (`{ Ref: ... }`, `{ 'Fn::Sub': ... }`, `{ 'Fn::GetAtt': [resource, attribute] }`) as
 * CloudFormation reads them. Any error or warning (an unknown tag, a duplicate key) throws: a
 * template the test cannot read must fail it, not pass it unread.
 */
import { parseDocument, type Tags, type YAMLMap, type YAMLSeq } from 'yaml';

export type CfnValue = string | number | boolean | null | CfnValue[] | { [key: string]: CfnValue };

const FUNCTIONS = [
  'Base64', 'Cidr', 'FindInMap', 'GetAtt', 'GetAZs', 'ImportValue', 'Join', 'Select', 'Split', 'Sub', 'Transform',
  'And', 'Equals', 'If', 'Not', 'Or', 'Length', 'ToJsonString',
];

/** `!Name value` → `{ 'Fn::Name': value }` (`Ref` and `Condition` keep their name). */
function longForm(name: string, value: unknown): CfnValue {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  // The short form of GetAtt is `Resource.Attribute`.
  if (name === 'GetAtt' && typeof value === 'string') return { [key]: value.split(/\.(.*)/s).slice(0, 2) };
  return { [key]: value as CfnValue };
}

const CFN_TAGS: Tags = [...FUNCTIONS, 'Ref', 'Condition'].flatMap((name) => [
  { tag: `!${name}`, resolve: (value: string) => longForm(name, value) },
  { tag: `!${name}`, collection: 'seq' as const, resolve: (value: YAMLSeq) => longForm(name, value.toJSON()) },
  { tag: `!${name}`, collection: 'map' as const, resolve: (value: YAMLMap) => longForm(name, value.toJSON()) },
]) as unknown as Tags;

export function parseCfnYaml(source: string, file = 'template'): CfnValue {
  const doc = parseDocument(source, { customTags: CFN_TAGS, uniqueKeys: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new Error(`${file}: ${problem.message}`);
  return doc.toJS() as CfnValue;
}
