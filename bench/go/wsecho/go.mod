// The WebSocket peer is its own module: it needs gorilla/websocket, which comes from
// Debian's golang-github-gorilla-websocket-dev (bench/build-peers.sh installs it), so
// the other Go peers still build with nothing but Go.
module peers/wsecho

go 1.19

require github.com/gorilla/websocket v1.5.0

replace github.com/gorilla/websocket => /usr/share/gocode/src/github.com/gorilla/websocket
