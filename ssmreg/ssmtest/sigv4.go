package ssmtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Parts of a well-formed SigV4 Authorization header for this service.
var (
	authPattern = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^,/ ]+)/([0-9]{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)
	spaces      = regexp.MustCompile(`\s+`)
)

// sigV4 is a parsed Authorization header.
type sigV4 struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
	amzDate                            string
}

// parseSigV4 checks that the request carries a well-formed SigV4
// Authorization header for the ssm service and a matching X-Amz-Date. It
// returns the AWS error code and message to answer with when it does not.
func parseSigV4(r *http.Request) (sigV4, string, string) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return sigV4{}, "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	m := authPattern.FindStringSubmatch(auth)
	if m == nil {
		return sigV4{}, "IncompleteSignatureException",
			"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters in the AWS4-HMAC-SHA256 format"
	}
	s := sigV4{accessKeyID: m[1], date: m[2], region: m[3], service: m[4], signedHeaders: strings.Split(m[5], ";"), signature: m[6]}
	if s.service != "ssm" {
		return s, "IncompleteSignatureException", "Credential should be scoped to correct service: 'ssm'."
	}
	s.amzDate = r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", s.amzDate)
	if err != nil {
		return s, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
	}
	if t.Format("20060102") != s.date {
		return s, "IncompleteSignatureException", "Credential date does not match X-Amz-Date"
	}
	if !sort.StringsAreSorted(s.signedHeaders) || !contains(s.signedHeaders, "host") || !contains(s.signedHeaders, "x-amz-date") {
		return s, "IncompleteSignatureException", "SignedHeaders must be sorted and include host and x-amz-date"
	}
	return s, "", ""
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// verify recomputes the signature with secret and compares it.
func (s sigV4) verify(r *http.Request, body []byte, secret string) bool {
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(canonicalQuery(r) + "\n")
	for _, h := range s.signedHeaders {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(h)
			for i := range vals {
				vals[i] = strings.TrimSpace(spaces.ReplaceAllString(vals[i], " "))
			}
			v = strings.Join(vals, ",")
		}
		canon.WriteString(h + ":" + v + "\n")
	}
	canon.WriteString("\n" + strings.Join(s.signedHeaders, ";") + "\n")
	canon.WriteString(hexSHA256(body))

	scope := s.date + "/" + s.region + "/" + s.service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + s.amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canon.String()))
	key := hmacSHA256([]byte("AWS4"+secret), s.date)
	key = hmacSHA256(key, s.region)
	key = hmacSHA256(key, s.service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	return hmac.Equal([]byte(want), []byte(s.signature))
}

func canonicalQuery(r *http.Request) string {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := q[k]
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

func escape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
