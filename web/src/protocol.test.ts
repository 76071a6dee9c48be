import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  CHAT_HISTORY_LIMIT,
  CLOSE_CODES,
  MAX_CHAT_CHARS,
  MAX_CLIENT_ID_BYTES,
  MAX_CURSOR_FIELD_BYTES,
  MAX_DOCUMENT_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_OP_BYTES,
  MAX_OP_ID_BYTES,
  isRefusal,
} from './protocol'

// testdata/limits.json is written from the server's own constants, so this
// test fails when the two sides disagree.
const limits = JSON.parse(readFileSync(new URL('../../testdata/limits.json', import.meta.url), 'utf8')) as {
  max_message_bytes: number
  max_op_id_bytes: number
  max_client_id_bytes: number
  max_cursor_field_bytes: number
  max_chat_chars: number
  chat_history_limit: number
  max_document_bytes: number
  max_op_bytes: number
  close_codes: Record<string, number>
}

describe('wire limits and close codes', () => {
  it('match the server', () => {
    expect({
      max_message_bytes: MAX_MESSAGE_BYTES,
      max_op_id_bytes: MAX_OP_ID_BYTES,
      max_client_id_bytes: MAX_CLIENT_ID_BYTES,
      max_cursor_field_bytes: MAX_CURSOR_FIELD_BYTES,
      max_chat_chars: MAX_CHAT_CHARS,
      chat_history_limit: CHAT_HISTORY_LIMIT,
      max_document_bytes: MAX_DOCUMENT_BYTES,
      max_op_bytes: MAX_OP_BYTES,
      close_codes: CLOSE_CODES,
    }).toEqual(limits)
  })

  it('stop only on closes that retrying cannot fix', () => {
    const stop = Object.entries(CLOSE_CODES)
      .filter(([, code]) => isRefusal(code))
      .map(([name]) => name)
    expect(stop).toEqual(['unauthenticated', 'forbidden', 'not_found', 'bad_revision', 'too_large'])
    for (const code of [1000, 1001, 1006, 1008, 1011, 4000, 4429, 4999]) expect(isRefusal(code)).toBe(false)
  })
})
