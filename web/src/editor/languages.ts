// The languages offered for a document (Monaco ids) and a guess from the title's extension.

export const LANGUAGES: { id: string; label: string }[] = [
  { id: 'plaintext', label: 'Plain text' },
  { id: 'javascript', label: 'JavaScript' },
  { id: 'typescript', label: 'TypeScript' },
  { id: 'python', label: 'Python' },
  { id: 'go', label: 'Go' },
  { id: 'rust', label: 'Rust' },
  { id: 'java', label: 'Java' },
  { id: 'c', label: 'C' },
  { id: 'cpp', label: 'C++' },
  { id: 'csharp', label: 'C#' },
  { id: 'ruby', label: 'Ruby' },
  { id: 'php', label: 'PHP' },
  { id: 'html', label: 'HTML' },
  { id: 'css', label: 'CSS' },
  { id: 'json', label: 'JSON' },
  { id: 'markdown', label: 'Markdown' },
  { id: 'sql', label: 'SQL' },
  { id: 'shell', label: 'Shell' },
  { id: 'yaml', label: 'YAML' },
  { id: 'xml', label: 'XML' },
]

const BY_EXTENSION: Record<string, string> = {
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascript',
  ts: 'typescript', tsx: 'typescript', py: 'python', go: 'go', rs: 'rust',
  java: 'java', c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', hpp: 'cpp', cs: 'csharp',
  rb: 'ruby', php: 'php', html: 'html', htm: 'html', css: 'css', json: 'json',
  md: 'markdown', sql: 'sql', sh: 'shell', bash: 'shell', yml: 'yaml', yaml: 'yaml', xml: 'xml',
}

/** editorLanguage is the language to highlight: the document's, or a guess from its title when plain text. */
export function editorLanguage(language: string, title: string): string {
  if (language && language !== 'plaintext') return language
  const m = /\.([A-Za-z0-9]+)$/.exec(title)
  return (m && BY_EXTENSION[m[1].toLowerCase()]) || 'plaintext'
}
