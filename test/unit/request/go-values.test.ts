import t from 'tap';
import { parseGoBool } from '../../../src/request/go-values.js';

t.test("strconv.ParseBool's spellings, and nothing else", async (t) => {
  for (const s of ['1', 't', 'T', 'TRUE', 'true', 'True']) t.equal(parseGoBool(s), true, s);
  for (const s of ['0', 'f', 'F', 'FALSE', 'false', 'False']) t.equal(parseGoBool(s), false, s);
  for (const s of ['', 'yes', 'no', 'on', 'off', 'tRUE', 'fAlse', ' true', 'false ', '00', '01'])
    t.equal(parseGoBool(s), undefined, JSON.stringify(s));
});
