package ecsmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// EnvEndpointV4 is the environment variable in which ECS passes the task
// metadata endpoint v4 URI to every container.
const EnvEndpointV4 = "ECS_CONTAINER_METADATA_URI_V4"

// Defaults used when the corresponding Options field is zero.
const (
	DefaultTimeout     = 5 * time.Second        // per attempt
	DefaultMaxAttempts = 5                      // first try plus 4 retries
	DefaultBackoff     = 100 * time.Millisecond // first retry delay, doubled each time
	DefaultMaxBackoff  = 2 * time.Second        // cap on a single delay
	maxBodyBytes       = 16 << 20               // task responses with many containers stay far below
)

// Options configures a Client. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests. Nil means a client with Timeout as its
	// per-attempt timeout.
	HTTPClient *http.Client
	// Timeout bounds each attempt when HTTPClient is nil; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts bounds the attempts per call, counting the first; 0 means
	// DefaultMaxAttempts and 1 disables retries. Connection errors and 5xx
	// responses are retried (a task sees them briefly while the agent
	// starts); 4xx responses and decoding errors are not.
	MaxAttempts int
	// Backoff is the delay before the first retry, doubled for each further
	// retry up to MaxBackoff, with up to 50% random jitter added. Zero
	// means DefaultBackoff / DefaultMaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// Client reads the task metadata endpoint v4. It is safe for concurrent use.
type Client struct {
	base        *url.URL
	httpc       *http.Client
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
}

// New returns a client for the endpoint URI, normally the value of
// ECS_CONTAINER_METADATA_URI_V4 (for example
// "http://169.254.170.2/v4/0123abcd-..."). opts may be nil.
func New(endpoint string, opts *Options) (*Client, error) {
	if endpoint == "" {
		return nil, ErrNoEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("ecsmeta: endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("ecsmeta: endpoint %q: want an http:// URL with a host", endpoint)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxAttempts < 0 || o.Timeout < 0 || o.Backoff < 0 || o.MaxBackoff < 0 {
		return nil, fmt.Errorf("ecsmeta: negative option (MaxAttempts %d, Timeout %s, Backoff %s, MaxBackoff %s)",
			o.MaxAttempts, o.Timeout, o.Backoff, o.MaxBackoff)
	}
	c := &Client{
		base:        u,
		httpc:       o.HTTPClient,
		maxAttempts: o.MaxAttempts,
		backoff:     o.Backoff,
		maxBackoff:  o.MaxBackoff,
	}
	if c.httpc == nil {
		t := o.Timeout
		if t == 0 {
			t = DefaultTimeout
		}
		c.httpc = &http.Client{Timeout: t}
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.backoff == 0 {
		c.backoff = DefaultBackoff
	}
	if c.maxBackoff == 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	return c, nil
}

// FromEnv returns a client for the endpoint in ECS_CONTAINER_METADATA_URI_V4.
// It returns an error wrapping ErrNoEndpoint when the variable is unset or
// empty. opts may be nil.
func FromEnv(opts *Options) (*Client, error) {
	v := os.Getenv(EnvEndpointV4)
	if v == "" {
		return nil, fmt.Errorf("%w: %s is not set", ErrNoEndpoint, EnvEndpointV4)
	}
	return New(v, opts)
}

// Endpoint returns the endpoint URI the client reads.
func (c *Client) Endpoint() string { return c.base.String() }

// Container returns the calling container's metadata (GET on the endpoint
// itself).
func (c *Client) Container(ctx context.Context) (*Container, error) {
	var v Container
	if err := c.get(ctx, "", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Task returns the task's metadata (GET /task).
func (c *Client) Task(ctx context.Context) (*Task, error) {
	var v Task
	if err := c.get(ctx, "/task", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// TaskWithTags returns the task's metadata with TaskTags and, on EC2,
// ContainerInstanceTags (GET /taskWithTags). The task role needs
// ecs:ListTagsForResource; when tags cannot be read the agent still answers
// and lists the failure in Task.Errors.
func (c *Client) TaskWithTags(ctx context.Context) (*Task, error) {
	var v Task
	if err := c.get(ctx, "/taskWithTags", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Stats returns the calling container's Docker stats (GET /stats).
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var v Stats
	if err := c.get(ctx, "/stats", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// TaskStats returns the stats of every container in the task, keyed by
// Docker ID (GET /task/stats). A container without stats yet maps to nil.
func (c *Client) TaskStats(ctx context.Context) (map[string]*Stats, error) {
	var v map[string]*Stats
	if err := c.get(ctx, "/task/stats", &v); err != nil {
		return nil, err
	}
	return v, nil
}

// get fetches base+path and decodes the JSON body into v, retrying
// connection errors and 5xx responses.
func (c *Client) get(ctx context.Context, path string, v any) error {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	display := path
	if display == "" {
		display = "/"
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		body, retry, err := c.do(ctx, u.String(), display)
		if err == nil {
			if err := json.Unmarshal(body, v); err != nil {
				return fmt.Errorf("ecsmeta: GET %s: decode response: %w", display, err)
			}
			return nil
		}
		lastErr = err
		if !retry || attempt >= c.maxAttempts {
			if attempt > 1 {
				return fmt.Errorf("%w (after %d attempts)", lastErr, attempt)
			}
			return lastErr
		}
		d := c.backoff << (attempt - 1)
		if d > c.maxBackoff || d <= 0 {
			d = c.maxBackoff
		}
		d += rand.N(d/2 + 1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ecsmeta: GET %s: %w (last error: %w)", display, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}

// do performs one attempt. retry reports whether a failure is transient.
func (c *Client) do(ctx context.Context, u, display string) (body []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("ecsmeta: GET %s: %w", display, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpc.Do(req)
	if err != nil {
		// Transport errors (refused, reset, per-attempt timeout) are
		// retried unless the caller's context ended.
		return nil, ctx.Err() == nil, fmt.Errorf("ecsmeta: GET %s: %w", display, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("ecsmeta: GET %s: read response: %w", display, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 256 {
			snippet = snippet[:256] + "..."
		}
		se := &StatusError{Path: display, StatusCode: resp.StatusCode, Body: snippet}
		return nil, resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, se
	}
	if len(body) > maxBodyBytes {
		return nil, false, fmt.Errorf("ecsmeta: GET %s: response larger than %d bytes", display, maxBodyBytes)
	}
	return body, false, nil
}

// IsTransient reports whether err is a failure the client would retry: a
// 5xx or 429 StatusError or a transport error. Callers that poll the endpoint
// themselves can use it to decide whether to try again later.
func IsTransient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500 || se.StatusCode == http.StatusTooManyRequests
	}
	var ue *url.Error
	return errors.As(err, &ue)
}
