// Peer of examples/http-load.rs: Go's net/http client under the same load. --conns
// goroutines share one http.Client and each loops Get(url) and reads the body to its end
// (which, with Close, hands the connection back to the Transport's pool), for --secs
// seconds. Every response must be a 200 with a --len-byte body, else it is an error.
//
// usage: client-load URL [--conns 50] [--secs 5] [--len 13]
// prints: requests N, req/s X, errors E (the first error's message on stderr).
//
// The Transport keeps --conns idle connections per host (MaxIdleConnsPerHost): with
// Go's default of 2, 48 of the 50 goroutines would close their connection after each
// response and dial a new one, which measures connecting, not requests. Otherwise it is
// a plain Transport: no proxy, no timeouts. One client CPU is GOMAXPROCS=1, which
// scripts/client-compare.sh sets in the environment (pinning to one CPU does the same).
package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

const usage = "usage: client-load URL [--conns 50] [--secs 5] [--len 13]"

func fail(why string) {
	fmt.Fprintf(os.Stderr, "client-load: %s\n%s\n", why, usage)
	os.Exit(2)
}

// tally is what one goroutine did.
type tally struct {
	requests, errors int64
	firstError       error
}

func main() {
	url, conns, secs, want := "", 50, 5.0, 13
	// By hand, not with flag: flag stops at the first argument that is not a flag, and
	// the URL comes first, as for the other load programs.
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--conns" || a == "--secs" || a == "--len" {
			if i+1 == len(args) {
				fail(a + " needs a value")
			}
			i++
			v, err := strconv.ParseFloat(args[i], 64)
			if err != nil {
				fail(a + ": not a number: " + args[i])
			}
			switch a {
			case "--conns":
				conns = int(v)
			case "--secs":
				secs = v
			case "--len":
				want = int(v)
			}
		} else if (len(a) > 0 && a[0] == '-') || url != "" {
			fail("unknown " + a)
		} else {
			url = a
		}
	}
	if url == "" || conns <= 0 || secs <= 0 {
		fail("a URL, and --conns and --secs above zero")
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	start := time.Now()
	deadline := start.Add(time.Duration(secs * float64(time.Second)))
	tallies := make([]tally, conns)
	var wg sync.WaitGroup
	for g := 0; g < conns; g++ {
		wg.Add(1)
		go func(t *tally) {
			defer wg.Done()
			var body bytes.Buffer
			for time.Now().Before(deadline) {
				if err := get(client, url, want, &body); err != nil {
					t.errors++
					if t.firstError == nil {
						t.firstError = err
					}
				} else {
					t.requests++
				}
			}
		}(&tallies[g])
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all tally
	for _, t := range tallies {
		all.requests += t.requests
		all.errors += t.errors
		if all.firstError == nil {
			all.firstError = t.firstError
		}
	}
	fmt.Printf("requests %d\n", all.requests)
	fmt.Printf("req/s %.0f\n", float64(all.requests)/elapsed.Seconds())
	fmt.Printf("errors %d\n", all.errors)
	if all.firstError != nil {
		fmt.Fprintf(os.Stderr, "client-load: first error: %v\n", all.firstError)
	}
}

// get is one request: a 200 with a want-byte body, read to the end.
func get(client *http.Client, url string, want int, body *bytes.Buffer) error {
	res, err := client.Get(url)
	if err != nil {
		return err
	}
	body.Reset()
	_, err = body.ReadFrom(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != 200 || body.Len() != want {
		return fmt.Errorf("status %d with a %d-byte body (want 200 with %d)", res.StatusCode, body.Len(), want)
	}
	return nil
}
