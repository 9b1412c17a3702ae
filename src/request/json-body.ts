import type { Decoded, StructShape } from './go-decode.js';
import { decodeText } from './text-decode.js';

/**
 * A JSON request body, as the daemon will decode it (Go's encoding/json: see go-decode.ts). Every
 * refusal, a syntax error included, comes from `decode`, which the caller runs with the Go struct
 * the route decodes the body into.
 */
export class JsonBody {
  constructor(private readonly text: string) {}

  decode(shape: StructShape): Decoded {
    return decodeText(this.text, shape);
  }
}
