package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Option configures Parse.
type Option func(*options)

type options struct {
	file    string
	lookups []func(string) (string, bool)
}

// WithFilename names the source in problems ("file:line:col").
func WithFilename(name string) Option {
	return func(o *options) { o.file = name }
}

// WithVars turns on ${NAME} substitution with values from vars. It may be
// combined with WithEnv; the first source that has a name wins.
func WithVars(vars map[string]string) Option {
	return func(o *options) {
		o.lookups = append(o.lookups, func(name string) (string, bool) {
			v, ok := vars[name]
			return v, ok
		})
	}
}

// WithEnv turns on ${NAME} substitution with values from the environment.
func WithEnv() Option {
	return func(o *options) { o.lookups = append(o.lookups, os.LookupEnv) }
}

// WithLookup turns on ${NAME} substitution with values from fn.
func WithLookup(fn func(name string) (string, bool)) Option {
	return func(o *options) { o.lookups = append(o.lookups, fn) }
}

// maxDepth bounds JSON nesting; templates need 5 levels.
const maxDepth = 64

// Parse reads a FIS experiment template, as given to
// "aws fis create-experiment-template --cli-input-json".
//
// Like the AWS CLI it rejects fields CreateExperimentTemplate does not
// have and values of the wrong JSON type. Unlike the CLI it reports every
// such problem, with its JSON path and line and column. When a variable
// source is given (WithVars, WithEnv, WithLookup), ${NAME} placeholders in
// string values and map keys are substituted first ("$${" stands for a
// literal "${"); placeholders without a value are reported by name.
// Substitution happens after JSON decoding, so values need no escaping
// and positions refer to the text as written.
//
// On a JSON syntax error Parse returns a nil Template and Problems holding
// one CodeSyntax problem. Otherwise it returns the Template, decoded as far
// as possible, and Problems.Err() of the problems found; warnings (such as
// duplicate keys) and errors are kept in the Template and reported again,
// with the semantic problems, by Validate.
func Parse(data []byte, opts ...Option) (*Template, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	src := &source{file: o.file, data: data, pos: make(map[string]int), keys: make(map[string]int)}
	root, err := parseTree(data, src)
	if err != nil {
		return nil, Problems{src.syntaxProblem(err)}
	}
	c := &conv{src: src, lookups: o.lookups}
	t := &Template{src: src}
	c.template(root, t)
	src.parseProblems = c.probs
	return t, c.probs.Err()
}

// ParseFile reads and parses a template file; problems carry its name.
func ParseFile(path string, opts ...Option) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, append([]Option{WithFilename(path)}, opts...)...)
}

// Check parses and validates data and returns every problem found, errors
// and warnings, sorted by position. The template is nil only on a syntax
// error. The template is valid when Problems.HasErrors is false.
func Check(data []byte, opts ...Option) (*Template, Problems) {
	t, err := Parse(data, opts...)
	if t == nil {
		var ps Problems
		errors.As(err, &ps)
		return nil, ps
	}
	return t, t.Validate()
}

// source records where each JSON path of a parsed template is.
type source struct {
	file          string
	data          []byte
	pos           map[string]int  // JSON path -> byte offset of the value (of the key for objects and arrays)
	keys          map[string]int  // JSON path -> byte offset of its key in the parent object
	bad           map[string]bool // paths whose value had the wrong type
	unresolved    map[string]bool // paths with a ${NAME} that had no value
	lines         []int           // byte offsets of line starts, built on first use
	parseProblems Problems
}

// keyPosition returns the line and column of the key that names path,
// falling back to position.
func (s *source) keyPosition(path string) (line, col int) {
	if s == nil {
		return 0, 0
	}
	if off, ok := s.keys[path]; ok {
		return s.lineCol(off)
	}
	return s.position(path)
}

// position returns the line and column of path, or of its nearest
// recorded ancestor.
func (s *source) position(path string) (line, col int) {
	if s == nil {
		return 0, 0
	}
	for p := path; ; p = parentPath(p) {
		if off, ok := s.pos[p]; ok {
			return s.lineCol(off)
		}
		if p == "" {
			return 0, 0
		}
	}
}

func (s *source) lineCol(off int) (line, col int) {
	off = min(max(off, 0), len(s.data))
	if s.lines == nil { // offsets of line starts, computed once
		s.lines = []int{0}
		for i, b := range s.data {
			if b == '\n' {
				s.lines = append(s.lines, i+1)
			}
		}
	}
	// The last line start at or before off.
	i, found := slices.BinarySearch(s.lines, off)
	if !found {
		i--
	}
	return i + 1, off - s.lines[i] + 1
}

func (s *source) syntaxProblem(err error) Problem {
	p := Problem{Severity: SeverityError, Code: CodeSyntax, File: s.file}
	// json.Decoder's offsets are not always absolute; the one-shot checker
	// behind Unmarshal gives the offset just past the offending byte.
	var raw json.RawMessage
	off := len(s.data)
	var se *json.SyntaxError
	switch uerr := json.Unmarshal(s.data, &raw); {
	case errors.As(uerr, &se):
		off = max(int(se.Offset)-1, 0)
		if se.Offset >= int64(len(s.data)) && strings.HasPrefix(se.Error(), "unexpected end") {
			off = len(s.data)
		}
		p.Message = "invalid JSON: " + se.Error()
	case uerr != nil:
		p.Message = "invalid JSON: " + uerr.Error()
	default:
		p.Message = "invalid JSON: " + err.Error()
	}
	p.Line, p.Col = s.lineCol(off)
	return p
}

// parentPath strips the last element of a JSON path: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func indexPath(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// --- JSON tree with offsets -------------------------------------------------

type jsonKind int

const (
	kindObject jsonKind = iota + 1
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

// String names the kind as JSON does.
func (k jsonKind) String() string {
	switch k {
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindBool:
		return "boolean"
	}
	return "null"
}

type jnode struct {
	kind    jsonKind
	off     int
	text    string // string value, number text or "true"/"false"
	members []jmember
	elems   []*jnode
	dups    []jmember // earlier members overridden by a later duplicate key
}

type jmember struct {
	key    string
	keyOff int
	val    *jnode
}

type treeParser struct {
	data []byte
	dec  *json.Decoder
}

// parseTree decodes data into a tree that remembers byte offsets, using
// encoding/json's tokenizer for the grammar.
func parseTree(data []byte, src *source) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tp := &treeParser{data: data, dec: dec}
	root, err := tp.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			off := tp.next()
			return nil, &json.SyntaxError{Offset: int64(off) + 1}
		}
		return nil, err
	}
	_ = src
	return root, nil
}

// next returns the offset of the next token: the decoder's position after
// the separators ':' and ',' and white space.
func (tp *treeParser) next() int {
	off := int(tp.dec.InputOffset())
	for off < len(tp.data) {
		switch tp.data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

func (tp *treeParser) value(depth int) (*jnode, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d levels at byte %d", maxDepth, tp.next())
	}
	off := tp.next()
	tok, err := tp.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &jnode{off: off}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = kindObject
			index := make(map[string]int)
			for tp.dec.More() {
				koff := tp.next()
				ktok, err := tp.dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := ktok.(string)
				if !ok {
					return nil, &json.SyntaxError{Offset: int64(koff) + 1}
				}
				v, err := tp.value(depth + 1)
				if err != nil {
					return nil, err
				}
				m := jmember{key: key, keyOff: koff, val: v}
				if i, dup := index[key]; dup {
					n.dups = append(n.dups, n.members[i])
					n.members[i] = m
					continue
				}
				index[key] = len(n.members)
				n.members = append(n.members, m)
			}
		case '[':
			n.kind = kindArray
			for tp.dec.More() {
				v, err := tp.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
		default:
			return nil, &json.SyntaxError{Offset: int64(off) + 1}
		}
		if _, err := tp.dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.text = kindString, t
	case json.Number:
		n.kind, n.text = kindNumber, string(t)
	case bool:
		n.kind, n.text = kindBool, fmt.Sprint(t)
	case nil:
		n.kind = kindNull
	}
	return n, nil
}

// --- tree to Template ---------------------------------------------------------

type conv struct {
	src     *source
	lookups []func(string) (string, bool)
	probs   Problems
}

func (c *conv) add(sev Severity, code, path, msg string) {
	p := Problem{Severity: sev, Code: code, Path: path, File: c.src.file, Message: msg}
	if code == CodeUnknownField {
		p.Line, p.Col = c.src.keyPosition(path)
	} else {
		p.Line, p.Col = c.src.position(path)
	}
	c.probs = append(c.probs, p)
}

func (c *conv) typeError(n *jnode, path, want string) {
	if c.src.bad == nil {
		c.src.bad = make(map[string]bool)
	}
	c.src.bad[path] = true
	val := n.text
	switch n.kind {
	case kindObject:
		val = "{...}"
	case kindArray:
		val = "[...]"
	case kindNull:
		val = "null"
	case kindString:
		val = fmt.Sprintf("%q", n.text)
	}
	name := path
	if name == "" {
		name = "input"
	}
	// The AWS CLI's wording (botocore's parameter validator), with JSON type names.
	c.add(SeverityError, CodeType, path, fmt.Sprintf("Invalid type for parameter %s, value: %s, type: %s, valid types: %s",
		name, val, n.kind, want))
}

// object walks the members of an object node. Members whose key is not in
// fields are reported as unknown, in the AWS CLI's wording.
func (c *conv) object(n *jnode, path string, fields []string, fn func(key string, v *jnode, path string)) bool {
	if _, ok := c.src.pos[path]; !ok {
		c.src.pos[path] = n.off
	}
	if n.kind != kindObject {
		c.typeError(n, path, "object")
		return false
	}
	c.duplicates(n, path)
	for _, m := range n.members {
		p := joinPath(path, m.key)
		c.record(p, m)
		known := false
		for _, f := range fields {
			if f == m.key {
				known = true
				break
			}
		}
		if !known {
			name := path
			if name == "" {
				name = "input"
			}
			c.add(SeverityError, CodeUnknownField, p, fmt.Sprintf("Unknown parameter in %s: %q, must be one of: %s",
				name, m.key, strings.Join(fields, ", ")))
			continue
		}
		fn(m.key, m.val, p)
	}
	return true
}

// record remembers where a member is: its key for objects and arrays (the
// line that names them), its value for scalars.
func (c *conv) record(path string, m jmember) {
	c.src.keys[path] = m.keyOff
	if m.val.kind == kindObject || m.val.kind == kindArray {
		c.src.pos[path] = m.keyOff
	} else {
		c.src.pos[path] = m.val.off
	}
}

func (c *conv) duplicates(n *jnode, path string) {
	for _, d := range n.dups {
		p := joinPath(path, d.key)
		line, col := c.src.lineCol(d.keyOff)
		c.probs = append(c.probs, Problem{Severity: SeverityWarning, Code: CodeDuplicateKey, Path: p,
			File: c.src.file, Line: line, Col: col,
			Message: fmt.Sprintf("key %q appears more than once in this object; the last value wins", d.key)})
	}
}

func (c *conv) str(n *jnode, path string) string {
	c.src.pos[path] = n.off
	if n.kind != kindString {
		c.typeError(n, path, "string")
		return ""
	}
	return c.subst(n.text, path)
}

func (c *conv) strList(n *jnode, path string) []string {
	if n.kind != kindArray {
		c.typeError(n, path, "array")
		return nil
	}
	out := make([]string, 0, len(n.elems))
	for i, e := range n.elems {
		out = append(out, c.str(e, indexPath(path, i)))
	}
	return out
}

// strMap decodes an object of strings; keys are substituted like values.
func (c *conv) strMap(n *jnode, path string) map[string]string {
	if n.kind != kindObject {
		c.typeError(n, path, "object")
		return nil
	}
	c.duplicates(n, path)
	out := make(map[string]string, len(n.members))
	for _, m := range n.members {
		key := c.subst(m.key, joinPath(path, m.key))
		p := joinPath(path, key)
		c.record(p, m)
		out[key] = c.str(m.val, p)
	}
	return out
}

// objList decodes an array of objects with the given fields (stop
// conditions, filters, dashboards): field calls fn with the element being
// filled in. Not an array: a type error and nil.
func objList[T any](c *conv, n *jnode, path string, fields []string, field func(elem *T, key string, v *jnode, path string)) []T {
	if n.kind != kindArray {
		c.typeError(n, path, "array")
		return nil
	}
	out := make([]T, 0, len(n.elems))
	for i, e := range n.elems {
		var elem T
		c.object(e, indexPath(path, i), fields, func(key string, v *jnode, p string) {
			field(&elem, key, v, p)
		})
		out = append(out, elem)
	}
	return out
}

// s3Configuration decodes {"bucketName", "prefix"}, the S3 place of the
// experiment log and of the experiment report; nil if n is not an object.
func (c *conv) s3Configuration(n *jnode, path string) *S3LogConfiguration {
	var s3 S3LogConfiguration
	if !c.object(n, path, []string{"bucketName", "prefix"}, func(key string, v *jnode, p string) {
		if key == "bucketName" {
			s3.BucketName = c.str(v, p)
		} else {
			s3.Prefix = c.str(v, p)
		}
	}) {
		return nil
	}
	return &s3
}

// objMap decodes an object of objects (targets, actions).
func (c *conv) objMap(n *jnode, path string, fn func(key string, v *jnode, path string)) {
	if n.kind != kindObject {
		c.typeError(n, path, "object")
		return
	}
	c.duplicates(n, path)
	for _, m := range n.members {
		key := c.subst(m.key, joinPath(path, m.key))
		p := joinPath(path, key)
		c.record(p, m)
		fn(key, m.val, p)
	}
}

func (c *conv) template(n *jnode, t *Template) {
	fields := []string{"clientToken", "description", "stopConditions", "targets", "actions", "roleArn",
		"tags", "logConfiguration", "experimentOptions", "experimentReportConfiguration"}
	c.object(n, "", fields, func(key string, v *jnode, p string) {
		switch key {
		case "clientToken":
			t.ClientToken = c.str(v, p)
		case "description":
			t.Description = c.str(v, p)
		case "roleArn":
			t.RoleArn = c.str(v, p)
		case "tags":
			t.Tags = c.strMap(v, p)
		case "stopConditions":
			t.StopConditions = objList(c, v, p, []string{"source", "value"}, func(sc *StopCondition, key string, v *jnode, p string) {
				if key == "source" {
					sc.Source = c.str(v, p)
				} else {
					sc.Value = c.str(v, p)
				}
			})
		case "targets":
			t.Targets = make(map[string]Target)
			c.objMap(v, p, func(name string, v *jnode, p string) {
				t.Targets[name] = c.target(v, p)
			})
		case "actions":
			t.Actions = make(map[string]Action)
			c.objMap(v, p, func(name string, v *jnode, p string) {
				t.Actions[name] = c.action(v, p)
			})
		case "logConfiguration":
			t.LogConfiguration = c.logConfiguration(v, p)
		case "experimentOptions":
			var eo ExperimentOptions
			if c.object(v, p, []string{"accountTargeting", "emptyTargetResolutionMode"}, func(key string, v *jnode, p string) {
				if key == "accountTargeting" {
					eo.AccountTargeting = c.str(v, p)
				} else {
					eo.EmptyTargetResolutionMode = c.str(v, p)
				}
			}) {
				t.ExperimentOptions = &eo
			}
		case "experimentReportConfiguration":
			t.ExperimentReportConfiguration = c.reportConfiguration(v, p)
		}
	})
}

func (c *conv) target(n *jnode, path string) Target {
	var t Target
	fields := []string{"resourceType", "resourceArns", "resourceTags", "filters", "selectionMode", "parameters"}
	c.object(n, path, fields, func(key string, v *jnode, p string) {
		switch key {
		case "resourceType":
			t.ResourceType = c.str(v, p)
		case "resourceArns":
			t.ResourceArns = c.strList(v, p)
		case "resourceTags":
			t.ResourceTags = c.strMap(v, p)
		case "parameters":
			t.Parameters = c.strMap(v, p)
		case "selectionMode":
			t.SelectionMode = c.str(v, p)
		case "filters":
			t.Filters = objList(c, v, p, []string{"path", "values"}, func(f *Filter, key string, v *jnode, p string) {
				if key == "path" {
					f.Path = c.str(v, p)
				} else {
					f.Values = c.strList(v, p)
				}
			})
		}
	})
	return t
}

func (c *conv) action(n *jnode, path string) Action {
	var a Action
	fields := []string{"actionId", "description", "parameters", "targets", "startAfter"}
	c.object(n, path, fields, func(key string, v *jnode, p string) {
		switch key {
		case "actionId":
			a.ActionID = c.str(v, p)
		case "description":
			a.Description = c.str(v, p)
		case "parameters":
			a.Parameters = c.strMap(v, p)
		case "targets":
			a.Targets = c.strMap(v, p)
		case "startAfter":
			a.StartAfter = c.strList(v, p)
		}
	})
	return a
}

func (c *conv) logConfiguration(n *jnode, path string) *LogConfiguration {
	var lc LogConfiguration
	ok := c.object(n, path, []string{"cloudWatchLogsConfiguration", "s3Configuration", "logSchemaVersion"},
		func(key string, v *jnode, p string) {
			switch key {
			case "cloudWatchLogsConfiguration":
				var cw CloudWatchLogsConfiguration
				if c.object(v, p, []string{"logGroupArn"}, func(_ string, v *jnode, p string) {
					cw.LogGroupArn = c.str(v, p)
				}) {
					lc.CloudWatchLogsConfiguration = &cw
				}
			case "s3Configuration":
				lc.S3Configuration = c.s3Configuration(v, p)
			case "logSchemaVersion":
				c.src.pos[p] = v.off
				var n int64
				if _, err := fmt.Sscan(v.text, &n); v.kind != kindNumber || err != nil || fmt.Sprint(n) != v.text {
					c.typeError(v, p, "integer")
					return
				}
				lc.LogSchemaVersion = &n
			}
		})
	if !ok {
		return nil
	}
	return &lc
}

func (c *conv) reportConfiguration(n *jnode, path string) *ExperimentReportConfiguration {
	var rc ExperimentReportConfiguration
	fields := []string{"outputs", "dataSources", "preExperimentDuration", "postExperimentDuration"}
	ok := c.object(n, path, fields, func(key string, v *jnode, p string) {
		switch key {
		case "preExperimentDuration":
			rc.PreExperimentDuration = c.str(v, p)
		case "postExperimentDuration":
			rc.PostExperimentDuration = c.str(v, p)
		case "outputs":
			var out ReportOutputs
			if c.object(v, p, []string{"s3Configuration"}, func(_ string, v *jnode, p string) {
				// The report's bucket and prefix are the log's, field for field.
				out.S3Configuration = (*ReportS3Configuration)(c.s3Configuration(v, p))
			}) {
				rc.Outputs = &out
			}
		case "dataSources":
			var ds ReportDataSources
			if c.object(v, p, []string{"cloudWatchDashboards"}, func(_ string, v *jnode, p string) {
				ds.CloudWatchDashboards = objList(c, v, p, []string{"dashboardIdentifier"}, func(d *ReportDashboard, _ string, v *jnode, p string) {
					d.DashboardIdentifier = c.str(v, p)
				})
			}) {
				rc.DataSources = &ds
			}
		}
	})
	if !ok {
		return nil
	}
	return &rc
}

// --- ${NAME} substitution -----------------------------------------------------

// varRE matches ${NAME}; names may carry the separators CloudFormation and
// Terraform use (AWS::Region, var.name).
var varRE = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_.:\-]*)\}`)

func (c *conv) subst(s, path string) string {
	if len(c.lookups) == 0 || !strings.Contains(s, "${") {
		return s
	}
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$${" {
			return "${"
		}
		name := m[2 : len(m)-1]
		for _, lookup := range c.lookups {
			if v, ok := lookup(name); ok {
				return v
			}
		}
		c.add(SeverityError, CodeUnresolved, path, fmt.Sprintf("unresolved placeholder ${%s}: no value given for %s", name, name))
		if c.src.unresolved == nil {
			c.src.unresolved = make(map[string]bool)
		}
		c.src.unresolved[path] = true
		return m
	})
}
