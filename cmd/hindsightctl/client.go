package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// client talks to the daemon's API.
type client struct {
	base, token string
	http        *http.Client
}

// call sends a request with an optional JSON body and returns the
// answer's body for a 2xx, or an *apiError carrying the daemon's
// {"error": ...} message.
func (c *client) call(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	resp, err := c.open(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, unavailableError{fmt.Errorf("%s %s: read the answer: %w", method, path, err)}
	}
	return b, nil
}

// open sends a request and returns a 2xx answer to read; the caller
// closes its body.
func (c *client) open(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, unavailableError{fmt.Errorf("%s %s: cannot reach Hindsight at %s: %w", method, path, c.base, err)}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	if msg == "" {
		msg = "no message"
	}
	return nil, &apiError{method: method, path: path, status: resp.StatusCode, msg: msg}
}

// get decodes a JSON answer into v.
func (c *client) get(ctx context.Context, path string, q url.Values, v any) ([]byte, error) {
	b, err := c.call(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("GET %s: the answer is not what hindsightctl expects: %w", path, err)
		}
	}
	return b, nil
}

// send posts or patches a JSON body and decodes the answer into v.
func (c *client) send(ctx context.Context, method, path string, body, v any) ([]byte, error) {
	b, err := c.call(ctx, method, path, nil, body)
	if err != nil {
		return nil, err
	}
	if v != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("%s %s: the answer is not what hindsightctl expects: %w", method, path, err)
		}
	}
	return b, nil
}

// emit prints an answer as -o asks: the table (text) or the JSON the
// daemon sent, indented or as YAML. It returns whether it printed.
func (c *cli) emit(raw []byte, table func(io.Writer) error) error {
	switch c.output {
	case "json":
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("the answer is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := c.stdout.Write(buf.Bytes())
		return err
	case "yaml":
		y, err := toYAML(raw)
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(y)
		return err
	}
	return table(c.stdout)
}

// toYAML turns JSON into block-style YAML, keeping the key order.
func toYAML(raw []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("the answer is not JSON: %w", err)
	}
	var unflow func(*yaml.Node)
	unflow = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle) != 0 && !needsQuotes(n.Value) {
			n.Style &^= yaml.DoubleQuotedStyle
		}
		for _, c := range n.Content {
			unflow(c)
		}
	}
	unflow(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// needsQuotes keeps quotes on strings YAML would read as something else.
func needsQuotes(s string) bool {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return true
	}
	str, ok := v.(string)
	return !ok || str != s
}
