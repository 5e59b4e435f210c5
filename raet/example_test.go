package raet_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/raet-go/raet/lane"
	"github.com/raet-go/raet/raet"
	"github.com/raet-go/raet/road"
)

// An event bus between two processes of one host: each process runs a node
// on the same lane (a directory of Unix datagram sockets). Here both nodes
// live in one program so the example runs as a test.
func Example_laneBus() {
	dir, _ := os.MkdirTemp("", "bus")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	worker, _ := raet.New(raet.Config{Lane: &lane.Config{Dir: dir, Lane: "app", Name: "worker"}, Logger: quiet,
		Handler: func(ctx context.Context, req *raet.Request) (any, error) {
			var in struct{ N int }
			if err := req.Decode(&in); err != nil {
				return nil, err
			}
			return map[string]any{"square": in.N * in.N}, nil
		}})
	defer worker.Close(ctx)
	jobs, _ := worker.Subscribe("jobs/*")

	web, _ := raet.New(raet.Config{Lane: &lane.Config{Dir: dir, Lane: "app", Name: "web"}, Logger: quiet})
	defer web.Close(ctx)

	// Requests go straight to a yard.
	rep, err := web.Request(ctx, raet.Route{Yard: "worker"}, map[string]any{"n": 7})
	if err != nil {
		fmt.Println(err)
		return
	}
	var out struct{ Square int }
	_ = rep.Decode(&out)
	fmt.Println("square:", out.Square)

	// Publications reach subscribers once they have announced themselves.
	for {
		_ = web.Publish(ctx, "jobs/new", map[string]any{"id": 1})
		select {
		case ev := <-jobs.C():
			fmt.Println("event:", ev.Topic, "from", ev.Source.Yard)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Output:
	// square: 49
	// event: jobs/new from web
}

// A master publishing to minions over the road: minions join the master's
// address and subscribe; the master's publications cross the road to them.
func Example_masterMinions() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	master, _ := raet.New(raet.Config{Logger: quiet,
		Road: &road.Config{Name: "master", Listen: "127.0.0.1:0", Main: true, Auto: "always"}})
	defer master.Close(ctx)

	minion, _ := raet.New(raet.Config{Logger: quiet, Road: &road.Config{Name: "minion1", Listen: "127.0.0.1:0"}})
	defer minion.Close(ctx)
	if _, err := minion.Join(ctx, master.Road().Addr().String()); err != nil {
		fmt.Println(err)
		return
	}
	orders, _ := minion.Subscribe("salt/job/**")

	for {
		_ = master.Publish(ctx, "salt/job/42/new", map[string]any{"fun": "test.ping"})
		select {
		case ev := <-orders.C():
			var job struct{ Fun string }
			_ = ev.Decode(&job)
			fmt.Println(ev.Source.Estate, "says", job.Fun)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Output: master says test.ping
}
