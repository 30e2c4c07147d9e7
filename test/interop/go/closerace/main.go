// closerace: amqp091-go's close handshakes, many times in a row. With -mode client, each try
// dials, opens a channel, declares a server-named queue, asks for close notifications and
// closes the connection: a clean close leaves the notification channel closed with no error,
// while a broker that ends the socket before the client has read connection.close-ok shows up
// as "Exception (501) Reason: EOF". With -mode server, the broker closes the connection (a
// channel.flow active=false, which RabbitMQ refuses with 540): the notification must carry 540,
// not an EOF. Prints one JSON line; exits 1 if any try went otherwise.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

type report struct {
	Tries    int      `json:"tries"`
	Failures int      `json:"failures"`
	Samples  []string `json:"samples"`
}

func tryClientClose(uri string) error {
	connection, err := amqp.Dial(uri)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	channel, err := connection.Channel()
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	if _, err := channel.QueueDeclare("", false, true, true, false, nil); err != nil {
		return fmt.Errorf("queue.declare: %w", err)
	}
	closed := connection.NotifyClose(make(chan *amqp.Error, 1))
	if err := connection.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	select {
	case reason, isOpen := <-closed:
		if isOpen && reason != nil {
			return fmt.Errorf("notify close: %v", reason)
		}
	case <-time.After(5 * time.Second):
		return fmt.Errorf("notify close: nothing within 5 s")
	}
	return nil
}

func tryServerClose(uri string) error {
	connection, err := amqp.Dial(uri)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer connection.Close()
	channel, err := connection.Channel()
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	closed := connection.NotifyClose(make(chan *amqp.Error, 1))
	_ = channel.Flow(false)
	select {
	case reason, isOpen := <-closed:
		if !isOpen || reason == nil {
			return fmt.Errorf("notify close: closed without the server's reason")
		}
		if reason.Code != amqp.NotImplemented {
			return fmt.Errorf("notify close: %v", reason)
		}
	case <-time.After(5 * time.Second):
		return fmt.Errorf("notify close: nothing within 5 s")
	}
	return nil
}

func main() {
	uri := flag.String("uri", "", "AMQP URI of the broker (loopback)")
	tries := flag.Int("tries", 50, "how many connections to open and close")
	mode := flag.String("mode", "client", "who closes: client or server")
	flag.Parse()
	try := tryClientClose
	if *mode == "server" {
		try = tryServerClose
	}
	result := report{Tries: *tries, Samples: []string{}}
	for i := 0; i < *tries; i++ {
		if err := try(*uri); err != nil {
			result.Failures++
			if len(result.Samples) < 5 {
				result.Samples = append(result.Samples, err.Error())
			}
		}
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
	if result.Failures > 0 {
		os.Exit(1)
	}
}
