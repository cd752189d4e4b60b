// Peer: gorilla/websocket echo server on net/http, one goroutine per connection, the
// Upgrader's defaults (its buffers are the ones net/http's connection already has);
// every text or binary message is read whole and written back, at any path.
// usage: go-ws-echo [-addr ADDR]
package main

import (
	"flag"
	"net/http"

	"github.com/gorilla/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "listen address")
	flag.Parse()
	var upgrader websocket.Upgrader
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			kind, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(kind, msg); err != nil {
				return
			}
		}
	})
	http.ListenAndServe(*addr, nil)
}
