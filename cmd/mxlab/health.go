package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newHealthCmd(env *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Ask a running lab whether every listener answers (exit 0 if so)",
		Long: `Ask a running lab's GET /healthz, which needs no token, and exit 0 when
it answers 200 (every listener and the DNS answer), 1 otherwise, with the
reason on standard error. The image's HEALTHCHECK runs it, so it needs no
shell and no curl.

  mxlab health                      # the API at 127.0.0.1:10080
  mxlab health --api 127.0.0.1:18080`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, _ := cmd.Flags().GetString("api")
			timeout, _ := cmd.Flags().GetDuration("timeout")
			status, err := checkHealth(cmd.Context(), addr, timeout)
			if err != nil {
				return exitError{code: exitFailure, msg: "health: " + err.Error()}
			}
			fmt.Fprintln(env.stdout, status)
			return nil
		},
	}
	cmd.Flags().String("api", DefaultAPI, "address of the lab's HTTP API (host:port)")
	cmd.Flags().Duration("timeout", 5*time.Second, "give up after this long")
	return cmd
}

// checkHealth asks GET /healthz at addr. An unspecified host (the
// 0.0.0.0 a server was told to listen on) is asked on loopback.
func checkHealth(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--api %q: want host:port", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w (is the lab running?)", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(reason(body)))
	}
	return fmt.Sprintf("%s: %s", url, strings.TrimSpace(string(body))), nil
}

// reason is the message of a JSON error body, or the body as it is.
func reason(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Error.Message != "" {
			return e.Error.Message
		}
		if e.Reason != "" {
			return e.Reason
		}
	}
	return string(body)
}
