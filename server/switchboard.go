package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/mxlab/mxlab/scenarios"
)

// Switchboard is one extra SMTP listener that applies whichever scenario
// is selected, so that an MTA relaying to one fixed smarthost can be
// tried against every scenario in turn. Each connection is handed, when
// it is accepted, to the selected scenario's server, and stays with it:
// selecting another scenario never touches a running session.
type Switchboard struct {
	servers map[string]*Server
	names   []string

	mu      sync.Mutex
	current *Server
	lns     []net.Listener
	closed  bool
	wg      sync.WaitGroup
}

// NewSwitchboard routes to the given servers, starting with initial.
func NewSwitchboard(servers []*Server, initial string) (*Switchboard, error) {
	sb := &Switchboard{servers: map[string]*Server{}}
	for _, s := range servers {
		name := s.Scenario().Name
		sb.servers[name] = s
		sb.names = append(sb.names, name)
	}
	if err := sb.Select(initial); err != nil {
		return nil, err
	}
	return sb, nil
}

// Select makes name the scenario for the connections accepted from now
// on. An unknown name wraps scenarios.ErrUnknown.
func (sb *Switchboard) Select(name string) error {
	s, ok := sb.servers[name]
	if !ok {
		return fmt.Errorf("server: switchboard: %w %q (running: %s)", scenarios.ErrUnknown, name, strings.Join(sb.names, ", "))
	}
	sb.mu.Lock()
	sb.current = s
	sb.mu.Unlock()
	return nil
}

// Current returns the selected scenario's name.
func (sb *Switchboard) Current() string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.current.Scenario().Name
}

// Names lists the scenarios the switchboard can apply, in catalogue order.
func (sb *Switchboard) Names() []string { return append([]string(nil), sb.names...) }

// Serve accepts connections on l until Close; it returns nil after Close.
func (sb *Switchboard) Serve(l net.Listener) error {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		l.Close()
		return net.ErrClosed
	}
	sb.lns = append(sb.lns, l)
	sb.wg.Add(1)
	sb.mu.Unlock()
	defer sb.wg.Done()
	closed := func() bool {
		sb.mu.Lock()
		defer sb.mu.Unlock()
		return sb.closed
	}
	return accept(l, closed, func(nc net.Conn) {
		sb.mu.Lock()
		s := sb.current
		sb.mu.Unlock()
		s.handle(nc, "switchboard")
	}, "switchboard")
}

// Close stops the listeners. The sessions belong to the scenarios'
// servers, whose Close ends them.
func (sb *Switchboard) Close() error {
	sb.mu.Lock()
	sb.closed = true
	var err error
	for _, l := range sb.lns {
		if e := l.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
	}
	sb.mu.Unlock()
	sb.wg.Wait()
	return err
}
