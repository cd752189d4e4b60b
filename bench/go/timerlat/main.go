// Peer: the Go twin of gmp's benches/timer_latency.rs (issue 20). N goroutines do
// loopback TCP echo round trips against an echo server in the same process, and one
// goroutine sleeps 5 ms over and over, recording by how much each sleep overshoots.
// GOMAXPROCS=2. Usage: go-timerlat [-secs S] [N ...] (default N = 1000 and 10000, S = 3).
// Prints the same `name value unit` lines as the gmp bench.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const sleep = 5 * time.Millisecond
const msg = 32

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-timerlat: "+f+"\n", a...)
	os.Exit(2)
}

// raiseFdLimit raises RLIMIT_NOFILE to need (the hard limit too where allowed), as the
// gmp bench does.
func raiseFdLimit(need uint64) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		die("getrlimit: %v", err)
	}
	if r.Cur >= need {
		return
	}
	want := syscall.Rlimit{Cur: need, Max: r.Max}
	if want.Max < need {
		want.Max = need
	}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
		return
	}
	soft := syscall.Rlimit{Cur: r.Max, Max: r.Max}
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &soft)
	if r.Max < need {
		die("needs %d file descriptors (two per connection) but the hard limit is %d; raise it (ulimit -Hn) or pass a smaller N", need, r.Max)
	}
}

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 512)
	for {
		k, err := c.Read(buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func client(c net.Conn, stop *int32, count *uint64, wg *sync.WaitGroup) {
	defer wg.Done()
	defer c.Close()
	out := make([]byte, msg)
	in := make([]byte, msg)
	for atomic.LoadInt32(stop) == 0 {
		if _, err := c.Write(out); err != nil {
			die("write: %v", err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			die("read: %v", err)
		}
		atomic.AddUint64(count, 1)
	}
}

func run(n int, secs time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("listen: %v", err)
	}
	// Accepts the N connections, then waits for their echo goroutines: every
	// descriptor is closed before the next N's run starts.
	var server sync.WaitGroup
	server.Add(1)
	go func() {
		defer server.Done()
		defer ln.Close()
		var echoes sync.WaitGroup
		for i := 0; i < n; i++ {
			c, err := ln.Accept()
			if err != nil {
				die("accept: %v", err)
			}
			echoes.Add(1)
			go func() {
				defer echoes.Done()
				echo(c)
			}()
		}
		echoes.Wait()
	}()
	var stop int32
	var count uint64
	var wg sync.WaitGroup
	// Every connection first, then the load: a Dial behind thousands of busy
	// goroutines would wait its turn in the run queue several times over.
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			die("connect: %v", err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		wg.Add(1)
		go client(c, &stop, &count, &wg)
	}
	time.Sleep(200 * time.Millisecond)
	var over []float64
	start := time.Now()
	before := atomic.LoadUint64(&count)
	for time.Since(start) < secs {
		t := time.Now()
		time.Sleep(sleep)
		over = append(over, float64(time.Since(t)-sleep)/1e3)
	}
	elapsed := time.Since(start)
	rt := atomic.LoadUint64(&count) - before
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	server.Wait()
	sort.Float64s(over)
	pct := func(q float64) float64 { return over[int(float64(len(over)-1)*q+0.5)] }
	fmt.Printf("timer_overshoot_p50_n%d %.1f us\n", n, pct(0.50))
	fmt.Printf("timer_overshoot_p99_n%d %.1f us\n", n, pct(0.99))
	fmt.Printf("timer_overshoot_max_n%d %.1f us\n", n, over[len(over)-1])
	fmt.Printf("timer_samples_n%d %d sleeps\n", n, len(over))
	fmt.Printf("round_trips_n%d %.0f /s\n", n, float64(rt)/elapsed.Seconds())
}

func main() {
	secs := flag.Float64("secs", 3, "seconds of measurement per N")
	flag.Parse()
	if *secs <= 0 {
		die("-secs needs a positive number of seconds")
	}
	runtime.GOMAXPROCS(2)
	var ns []int
	for _, a := range flag.Args() {
		n, err := strconv.Atoi(a)
		if err != nil || n <= 0 {
			die("N must be a positive number of goroutines, got %q", a)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		ns = []int{1000, 10000}
	}
	for _, n := range ns {
		raiseFdLimit(uint64(2*n + 64))
		run(n, time.Duration(*secs*float64(time.Second)))
	}
}
