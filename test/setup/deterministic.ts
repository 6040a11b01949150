// Property tests draw from a fixed seed, so every run checks the same cases and a failure repeats.
import fc from 'fast-check';

fc.configureGlobal({ seed: 20261125 });
