# G-Doc in one image: the web client built by Vite and embedded in the Go
# binary (build tag webdist), run as a non-root user.
#
#   docker build -t gdoc .
#   docker run -p 8000:8000 -v gdoc-data:/data gdoc     # embedded SQLite
#
# See docker-compose.yml (PostgreSQL + Redis) and docker-compose.prod.yml
# (several instances behind nginx).

# 1. The web client -> web/dist
FROM node:22-alpine AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# 2. The server, with web/dist embedded
FROM golang:1.26-alpine AS server
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/web/dist ./web/dist
RUN go build -tags webdist -trimpath -ldflags="-s -w" -o /out/gdoc ./cmd/gdoc

# 3. A small runtime image
FROM alpine:3.22
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 gdoc \
 && adduser -S -D -H -u 10001 -G gdoc gdoc \
 && mkdir -p /data && chown gdoc:gdoc /data
COPY --from=server /out/gdoc /usr/local/bin/gdoc
USER gdoc:gdoc
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:8000/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/gdoc"]
