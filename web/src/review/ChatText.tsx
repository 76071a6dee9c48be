// A chat message with its line links (L12, L12-L20) as buttons that scroll
// the editor to those lines; everything else is rendered as text.

import { parseChat, type LineLink } from './links'

export function ChatText({ message, onOpen }: { message: string; onOpen: (link: LineLink) => void }) {
  return (
    <>
      {parseChat(message).map((p, i) =>
        p.kind === 'text' ? (
          <span key={i}>{p.text}</span>
        ) : (
          <button
            key={i}
            type="button"
            className="line-link"
            title={p.link.at ? `Lines as of revision ${p.link.at.rev}, followed to the current text` : 'Lines in the current text'}
            onClick={() => onOpen(p.link)}
          >
            {p.text}
          </button>
        ),
      )}
    </>
  )
}
