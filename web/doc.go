// Package web holds G-Doc's browser client (React + TypeScript + Monaco,
// built by Vite into web/dist) and embeds the built files when the binary is
// built with `-tags webdist` (what `make build` does).
package web
