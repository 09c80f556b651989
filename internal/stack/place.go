package stack

import (
	"context"
	"net"
	"net/http"
	"time"
)

// DialFunc connects to an address, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Network places a stack's parts on hosts of a network of their own
// (netsplit in the partition tests); nil runs every part on loopback.
type Network interface {
	// Place returns the address of the host the part called name runs on
	// and the command prefix that runs a program there.
	Place(name string) (ip string, prefix []string, err error)
	// DialContext connects from where this process reaches the parts.
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Place is where one part runs and how this process reaches it; the zero
// value is loopback.
type Place struct {
	Host   string   // the part's address; 127.0.0.1 when empty
	Prefix []string // the command prefix that runs it there
	Dial   DialFunc // how this process connects to it; net.Dialer when nil
}

func (p Place) host() string {
	if p.Host == "" {
		return "127.0.0.1"
	}
	return p.Host
}

func (p Place) dial() DialFunc {
	if p.Dial == nil {
		return (&net.Dialer{}).DialContext
	}
	return p.Dial
}

func (p Place) httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: p.dial(), DisableKeepAlives: true}}
}

// place returns where the part called name runs on the stack's network.
func (s *Stack) place(name string) (Place, error) {
	if s.Network == nil {
		return Place{}, nil
	}
	ip, prefix, err := s.Network.Place(name)
	if err != nil {
		return Place{}, err
	}
	return Place{Host: ip, Prefix: prefix, Dial: s.Network.DialContext}, nil
}
