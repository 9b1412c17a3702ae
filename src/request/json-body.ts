import { codes, codedError } from '../errors.js';
import { decodeStruct as decodeFast, Unproven } from './fast-decode.js';
import { parseProven, UNPROVEN } from './fast-parse.js';
import { decodeStruct as decodeExact, type Decoded, type StructShape } from './go-decode.js';
import { parseJson, type JsonNode } from './json-parse.js';

// A JSON request body, read the cheapest way that still gives the exact decoder's answer:
// JSON.parse plus a proof when the proof holds (fast-parse.ts, fast-decode.ts), the exact
// tokenizer (json-parse.ts, go-decode.ts) for everything else. Both give the same value and the
// same refusal, word for word (test/unit/request/json-body.test.ts checks it).

/** A class, not a literal: one hidden class for every request. */
export class JsonBody {
  constructor(
    private readonly text: string,
    /** JSON.parse's proven value, or UNPROVEN. */
    private readonly value: unknown,
    private node: JsonNode | undefined,
  ) {}

  /** Decodes the body as the Go struct `shape`, as encoding/json does (see go-decode.ts). */
  decode(shape: StructShape): Decoded {
    if (this.value !== UNPROVEN) {
      try {
        return decodeFast(this.value, shape, '');
      } catch (err) {
        if (!(err instanceof Unproven)) throw err;
      }
    }
    // Cannot fail on a proven text: JSON.parse accepted it and it nests within the limit.
    this.node ??= parseJson(this.text).value;
    return decodeExact(this.node, shape, '');
  }
}

/** Reads the body the daemon will decode; refuses text that is not one JSON value. */
export function readJsonBody(bytes: Buffer): JsonBody {
  const text = bytes.toString('utf8');
  const value = parseProven(text, bytes);
  if (value !== UNPROVEN) return new JsonBody(text, value, undefined);
  const { value: node, rest } = parseJson(text);
  if (rest.trim() !== '') throw codedError(codes.BODY_AMBIGUOUS, 'request body has data after its JSON value');
  return new JsonBody(text, UNPROVEN, node);
}
