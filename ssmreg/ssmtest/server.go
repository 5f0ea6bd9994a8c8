package ssmtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value accepts any well-formed
// signature in any Region.
type Options struct {
	// Credentials maps access key IDs to secret keys. When non-empty, the
	// server verifies every signature (unknown keys answer
	// UnrecognizedClientException, bad signatures SignatureDoesNotMatch);
	// when empty it checks only that the Authorization header is well
	// formed.
	Credentials map[string]string
	// Region, when set, must be the Region in each request's credential
	// scope.
	Region string
}

// Call is one request the server received.
type Call struct {
	Operation   string          // e.g. "CreateActivation"
	Input       json.RawMessage // request body
	Signed      bool            // carried a valid (or, without Credentials, well-formed) SigV4 signature
	AccessKeyID string          // from the credential scope
	Region      string          // from the credential scope
	ErrorCode   string          // AWS error code answered, "" on success
	Time        time.Time
}

// Tag is an SSM resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Activation is a hybrid activation the server issued.
type Activation struct {
	ID, Code          string
	IamRole           string
	Tags              []Tag
	RegistrationLimit int
	Registrations     int
	Deleted           bool
}

// Instance is a managed instance registered through an activation.
type Instance struct {
	ID           string // "mi-" + 17 hex digits
	ActivationID string
	Tags         []Tag // copied from the activation
	Deregistered bool
}

// Server is the fake SSM endpoint. Its methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu          sync.Mutex
	calls       []Call
	activations []*Activation
	instances   []*Instance
	failures    map[string][]failure
}

type failure struct {
	code   string
	status int
}

// NewServer starts a fake SSM endpoint. opts may be nil. Close it when done.
func NewServer(opts *Options) *Server {
	s := &Server{failures: map[string][]failure{}}
	if opts != nil {
		s.opts = *opts
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL returns the endpoint's base URL, for ssm.Options.BaseEndpoint or
// AWS_ENDPOINT_URL_SSM.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next call of operation answer with the given AWS error
// code and HTTP status (for example "InternalServerError", 500) without
// acting. Calls stack up: FailNext twice fails the next two calls.
func (s *Server) FailNext(operation, code string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[operation] = append(s.failures[operation], failure{code, status})
}

// Calls returns the recorded calls, all of them or those of the given
// operations, in arrival order.
func (s *Server) Calls(operations ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(operations) == 0 || contains(operations, c.Operation) {
			out = append(out, c)
		}
	}
	return out
}

// Activations returns copies of the activations issued so far.
func (s *Server) Activations() []Activation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Activation, len(s.activations))
	for i, a := range s.activations {
		out[i] = *a
		out[i].Tags = append([]Tag(nil), a.Tags...)
	}
	return out
}

// Instances returns copies of the managed instances registered so far.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Instance, len(s.instances))
	for i, in := range s.instances {
		out[i] = *in
		out[i].Tags = append([]Tag(nil), in.Tags...)
	}
	return out
}

// apiError is an AWS JSON 1.1 error response.
type apiError struct {
	status  int
	code    string
	message string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, apiError{400, "SerializationException", "cannot read body"})
		return
	}
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	call := Call{Operation: op, Input: json.RawMessage(body), Time: time.Now()}

	out, aerr := s.handle(r, body, &call)
	s.mu.Lock()
	if aerr != nil {
		call.ErrorCode = aerr.code
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.message})
}

func (s *Server) handle(r *http.Request, body []byte, call *Call) (any, *apiError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, &apiError{404, "UnknownOperationException", "only POST / is served"}
	}
	if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.") {
		return nil, &apiError{400, "UnknownOperationException", "missing or foreign X-Amz-Target"}
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		return nil, &apiError{400, "SerializationException", fmt.Sprintf("Content-Type %q, want application/x-amz-json-1.1", ct)}
	}
	// The agent's RegisterManagedInstance is anonymous; everything else
	// must be signed.
	if call.Operation != "RegisterManagedInstance" {
		sig, code, msg := parseSigV4(r)
		call.AccessKeyID, call.Region = sig.accessKeyID, sig.region
		if code != "" {
			return nil, &apiError{400, code, msg}
		}
		if len(s.opts.Credentials) > 0 {
			secret, ok := s.opts.Credentials[sig.accessKeyID]
			if !ok {
				return nil, &apiError{400, "UnrecognizedClientException", "The security token included in the request is invalid."}
			}
			if !sig.verify(r, body, secret) {
				return nil, &apiError{403, "SignatureDoesNotMatch",
					"The request signature we calculated does not match the signature you provided."}
			}
		}
		if s.opts.Region != "" && sig.region != s.opts.Region {
			return nil, &apiError{400, "InvalidSignatureException",
				fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", sig.region)}
		}
		call.Signed = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.failures[call.Operation]; len(f) > 0 {
		s.failures[call.Operation] = f[1:]
		return nil, &apiError{f[0].status, f[0].code, "injected failure"}
	}
	switch call.Operation {
	case "CreateActivation":
		return s.createActivation(body)
	case "DeleteActivation":
		return s.deleteActivation(body)
	case "RegisterManagedInstance":
		return s.registerManagedInstance(body)
	case "DeregisterManagedInstance":
		return s.deregisterManagedInstance(body)
	default:
		return nil, &apiError{400, "UnknownOperationException", "operation not implemented by ssmtest: " + call.Operation}
	}
}

func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{400, "SerializationException", err.Error()}
	}
	return nil
}

var instanceIDPattern = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)

func (s *Server) createActivation(body []byte) (any, *apiError) {
	var in struct {
		IamRole           string
		Description       string
		RegistrationLimit *int
		Tags              []Tag
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch {
	case in.IamRole == "":
		return nil, &apiError{400, "InvalidParameters", "IamRole is required"}
	case len(in.IamRole) > 64:
		return nil, &apiError{400, "InvalidParameters", "IamRole must be at most 64 characters"}
	case len(in.Tags) > 1000:
		return nil, &apiError{400, "InvalidParameters", "at most 1000 tags"}
	case in.RegistrationLimit != nil && (*in.RegistrationLimit < 1 || *in.RegistrationLimit > 1000):
		return nil, &apiError{400, "InvalidParameters", "RegistrationLimit must be 1-1000"}
	}
	for _, t := range in.Tags {
		if t.Key == "" {
			return nil, &apiError{400, "InvalidParameters", "tag key must not be empty"}
		}
	}
	limit := 1
	if in.RegistrationLimit != nil {
		limit = *in.RegistrationLimit
	}
	code := make([]byte, 15)
	_, _ = rand.Read(code)
	a := &Activation{ID: newUUID(), Code: base64.StdEncoding.EncodeToString(code), IamRole: in.IamRole, Tags: in.Tags, RegistrationLimit: limit}
	s.activations = append(s.activations, a)
	return map[string]string{"ActivationId": a.ID, "ActivationCode": a.Code}, nil
}

func (s *Server) findActivation(id string) *Activation {
	for _, a := range s.activations {
		if a.ID == id && !a.Deleted {
			return a
		}
	}
	return nil
}

func (s *Server) deleteActivation(body []byte) (any, *apiError) {
	var in struct{ ActivationId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	a := s.findActivation(in.ActivationId)
	if a == nil {
		return nil, &apiError{400, "InvalidActivationId", "The activation ID is not valid: " + in.ActivationId}
	}
	a.Deleted = true
	return struct{}{}, nil
}

func (s *Server) registerManagedInstance(body []byte) (any, *apiError) {
	var in struct{ ActivationCode, ActivationId, PublicKey, PublicKeyType, Fingerprint string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	a := s.findActivation(in.ActivationId)
	if a == nil || a.Code != in.ActivationCode {
		return nil, &apiError{400, "InvalidActivation", "Activation ID and code do not match or the activation was deleted"}
	}
	if a.Registrations >= a.RegistrationLimit {
		return nil, &apiError{400, "InvalidActivation", "registration limit reached"}
	}
	if in.PublicKey == "" {
		return nil, &apiError{400, "InvalidParameters", "PublicKey is required"}
	}
	a.Registrations++
	id := make([]byte, 9)
	_, _ = rand.Read(id)
	inst := &Instance{ID: "mi-" + hex.EncodeToString(id)[:17], ActivationID: a.ID, Tags: append([]Tag(nil), a.Tags...)}
	s.instances = append(s.instances, inst)
	return map[string]string{"InstanceId": inst.ID}, nil
}

func (s *Server) deregisterManagedInstance(body []byte) (any, *apiError) {
	var in struct{ InstanceId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if !instanceIDPattern.MatchString(in.InstanceId) {
		return nil, &apiError{400, "InvalidParameters", "InstanceId must match ^mi-[0-9a-f]{17}$: " + in.InstanceId}
	}
	for _, inst := range s.instances {
		if inst.ID == in.InstanceId && !inst.Deregistered {
			inst.Deregistered = true
			return struct{}{}, nil
		}
	}
	return nil, &apiError{400, "InvalidInstanceId", "Instance Id " + in.InstanceId + " is not registered"}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
