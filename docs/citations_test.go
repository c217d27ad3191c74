// Package docs_test checks that the repository's citations can be
// followed: every file a YAML evidence string, a Go comment or a Markdown
// page names must exist in the repository, and every section (§N) it
// cites in one of the repository's own Markdown pages must exist there.
// A reader who cannot open what a claim rests on has no evidence.
package docs_test

import (
	"fmt"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

// self is this file: its tables hold bad citations on purpose.
const self = "docs/citations_test.go"

// TestCitations scans the repository (the module root, one directory up)
// and fails once for every citation that cannot be followed.
func TestCitations(t *testing.T) {
	problems, err := checkRepo(os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCitationChecks runs the checker on small made-up repositories: it
// must find what is wrong, and must not complain about what is fine.
func TestCitationChecks(t *testing.T) {
	base := fstest.MapFS{
		"go.mod":                           {Data: []byte("module example.test/m\n")},
		"README.md":                        {Data: []byte("# m\n")},
		"docs/recipe.md":                   {Data: []byte("# Recipe\n## §1. One\n### §6a. Six a\n### §6b. Six b\n### §8.4 Eight four\n")},
		"testdata/transcripts/postfix.txt": {Data: []byte("S: 220\n")},
		"lab/lab.go":                       {Data: []byte("package lab\n")},
		"postfix/lab-client.cf":            {Data: []byte("inet_protocols = ipv4\n")},
		"lab/lab_test.go":                  {Data: []byte("package lab\n\nfunc TestStart(t *testing.T) {}\n")},
	}
	tests := []struct {
		name string
		path string // the file added to base
		text string
		want []string // substrings of the problems, in order; none for a clean file
	}{
		{"yaml cites an existing doc section", "profiles/p.yaml", `evidence: "measured: docs/recipe.md §6a, §8.4 and §6b-c"` + "\n",
			[]string{"profiles/p.yaml:1: docs/recipe.md has no section §6c"}},
		{"yaml cites a doc that is not in the repository", "profiles/p.yaml", `evidence: "measured: interop-recipe.md §5"` + "\n",
			[]string{`profiles/p.yaml:1: cites "interop-recipe.md"`}},
		{"go comment cites a report outside the repository", "lab/x.go", "package lab\n\n// Measured (/tmp/research/tls/REPORT.md §2).\nvar x = 1\n",
			[]string{`lab/x.go:3: cites "/tmp/research/tls/REPORT.md"`}},
		{"go comment cites a report in a directory that is not there", "lab/x.go", "package lab\n\n// See dialects/REPORT.md §3.\nvar x = 1\n",
			[]string{`lab/x.go:3: cites "dialects/REPORT.md"`}},
		{"go string cites a bare document", "lab/x_test.go", "package lab\n\nvar msg = \"want 47 (research REPORT.md)\"\n",
			[]string{`lab/x_test.go:3: cites "REPORT.md"`}},
		{"go string with a fixture path is not a citation", "lab/x_test.go", "package lab\n\nvar fixture = map[string]string{\"d/notes.md\": \"x\", \"mine.yaml\": \"y\"}\n",
			nil},
		{"missing transcript", "scenarios/s.yaml", "evidence: \"measured: testdata/transcripts/exim.txt\"\n",
			[]string{`scenarios/s.yaml:1: cites "testdata/transcripts/exim.txt"`}},
		{"existing transcript, and a prefix of existing ones", "scenarios/s.yaml", "evidence: \"testdata/transcripts/postfix.txt and testdata/transcripts/post*\"\n",
			nil},
		{"path relative to the citing file", "lab/doc.md", "See [the code](lab.go) and ../README.md.\n",
			nil},
		{"a link to a url names no file here", "lab/doc.md", "[conn.go](https://github.com/emersion/go-smtp/blob/v0.25.1/conn.go) and [DESIGN.md](https://example.test/x)\n",
			nil},
		{"urls are not files", "lab/doc.md", "https://github.com/vdukhovni/postfix/blob/postfix-3.7/postfix/src/smtp/smtp.h and https://example.test/DESIGN.md\n",
			nil},
		{"foreign source paths are not repository files", "lab/doc.md", "Postfix's src/smtp/smtp.h and GnuTLS's lib/str.h, /etc/resolv.conf\n",
			nil},
		{"RFC sections are not the doc's", "lab/doc.md", "docs/recipe.md §1 and RFC 7672 §2.2.3\n",
			nil},
		{"a section on the next comment line", "lab/x.go", "package lab\n\n// As docs/recipe.md\n// §9 says.\nvar x = 1\n",
			[]string{"lab/x.go:4: docs/recipe.md has no section §9"}},
		{"a doc's own sections", "docs/other.md", "# Other\n## §1. One\nSee §1 and §2.\n",
			[]string{"docs/other.md:3: docs/other.md has no section §2"}},
		{"a test that exists", "docs/other.md", "Measured by lab.TestStart (lab/lab_test.go).\n",
			nil},
		{"a test that does not exist", "docs/other.md", "Measured by lab.TestStop.\n",
			[]string{`docs/other.md:1: cites test "lab.TestStop"`}},
		{"the recipe named instead of its path", "lab/z.go", "package lab\n\n// What Postfix asks (interop recipe §2).\nvar z = 1\n",
			[]string{"lab/z.go:3: cites docs/interop-recipe.md by name"}},
		{"a yaml entry's sections are its own", "profiles/q.yaml", "a: \"docs/recipe.md §1\"\nb: \"Exim spec §9\"\n",
			nil},
		{"a program name in a log is not the directory of the same name", "explain/c.yaml", "text: \"postfix/smtps/smtpd[366]: connect from lab/x/y[1]\"\n",
			nil},
		{"a missing file in an existing directory", "lab/doc.md", "See lab/sub/notes and testdata/transcripts/exim\n",
			[]string{`cites "testdata/transcripts/exim"`}},
		{"a bare go file that does not exist", "lab/y.go", "package lab\n\n// The rule lives in rules.go.\nvar y = 1\n",
			[]string{`lab/y.go:3: cites "rules.go"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for k, v := range base {
				fsys[k] = v
			}
			fsys[tt.path] = &fstest.MapFile{Data: []byte(tt.text)}
			got, err := checkRepo(fsys)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// scanned says which files hold citations: Go comments (and strings),
// YAML (evidence, sources, comments), Markdown.
func scanned(p string) bool {
	switch path.Ext(p) {
	case ".go", ".md", ".yaml", ".yml":
		return p != self
	}
	return false
}

// skipDir leaves out version control, hidden directories, fuzz corpora
// and other people's code.
func skipDir(p string) bool {
	base := path.Base(p)
	return p != "." && (strings.HasPrefix(base, ".") || base == "node_modules" || base == "vendor" ||
		base == "fuzz" && path.Base(path.Dir(p)) == "testdata")
}

// repo is the tree being checked.
type repo struct {
	fsys fs.FS
	// top holds the names at the root ("lab", "README.md", ...): a
	// relative path starting with one of them is a repository path.
	top map[string]bool
	// base maps a file name to the paths that have it.
	base map[string][]string
	// tests maps a test, benchmark or fuzz function to the directories
	// that declare it.
	tests map[string][]string
	// sections caches each Markdown file's § labels.
	sections map[string]map[string]bool
}

// checkRepo returns every citation in fsys that cannot be followed, as
// "file:line: what", sorted.
func checkRepo(fsys fs.FS) ([]string, error) {
	r := &repo{fsys: fsys, top: map[string]bool{}, base: map[string][]string{}, tests: map[string][]string{}, sections: map[string]map[string]bool{}}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		r.top[e.Name()] = true
	}
	var files []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(p) {
				return fs.SkipDir
			}
			return nil
		}
		r.base[d.Name()] = append(r.base[d.Name()], p)
		if strings.HasSuffix(p, "_test.go") {
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			for _, m := range testFuncRE.FindAllStringSubmatch(string(data), -1) {
				r.tests[m[1]] = append(r.tests[m[1]], path.Dir(p))
			}
		}
		if scanned(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		for _, s := range segments(f, data) {
			problems = append(problems, r.check(f, s)...)
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return lessProblem(problems[i], problems[j]) })
	return slices.Compact(problems), nil
}

// lessProblem orders "file:line: ..." by file, then line.
func lessProblem(a, b string) bool {
	fa, la, _ := strings.Cut(a, ":")
	fb, lb, _ := strings.Cut(b, ":")
	if fa != fb {
		return fa < fb
	}
	var na, nb int
	fmt.Sscan(la, &na)
	fmt.Sscan(lb, &nb)
	return na < nb
}

var testFuncRE = regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz)[A-Z]\w*)\(`)

// segment is text that may cite: a Go comment or string literal, or a
// whole YAML or Markdown file. Paragraphs (a blank line) separate what a
// section number may refer back to.
type segment struct {
	line int // the line of the first byte
	text string
	// code: a Go string literal, where only document (.md) names count as
	// citations; other paths there are the code's own (or fixtures), and
	// running the code checks them.
	code bool
}

// segments splits a file into what is checked. Go comments that follow
// each other on consecutive lines form one segment.
func segments(name string, data []byte) []segment {
	if path.Ext(name) != ".go" {
		return []segment{{line: 1, text: string(data)}}
	}
	var out []segment
	fset := token.NewFileSet()
	file := fset.AddFile(name, -1, len(data))
	var s scanner.Scanner
	s.Init(file, data, nil, scanner.ScanComments)
	lastEnd := -1
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		line := fset.Position(pos).Line
		switch tok {
		case token.COMMENT:
			if n := len(out); n > 0 && !out[n-1].code && line == lastEnd+1 {
				out[n-1].text += "\n" + lit
			} else {
				out = append(out, segment{line: line, text: lit})
			}
			lastEnd = line + strings.Count(lit, "\n")
		case token.STRING:
			out = append(out, segment{line: line, text: lit, code: true})
		}
	}
	return out
}

var (
	urlRE  = regexp.MustCompile(`https?://[^\s"'<>)\]]+`)
	linkRE = regexp.MustCompile(`\[[^\]\n]*\]\(https?://[^)\s]*\)`)
	// pathRE finds path-like words; what counts is decided in check.
	pathRE    = regexp.MustCompile(`[A-Za-z0-9_./~+-]+`)
	sectionRE = regexp.MustCompile(`§\s?(\d+(?:\.\d+)*)([a-z](?:-[a-z])?)?`)
	// otherAnchorRE marks section numbers that belong to something else:
	// an RFC, an Internet-Draft.
	otherAnchorRE = regexp.MustCompile(`\bRFC ?\d+|\bdraft-[a-z0-9-]+`)
	testNameRE    = regexp.MustCompile(`\b(?:([a-z][a-z0-9]*)\.)?((?:Test|Benchmark|Fuzz)[A-Z]\w*)`)
)

// docExts are the extensions of files a bare name (no directory) is
// checked for: documents and Go files.
var docExts = []string{".md", ".go"}

// anchor is a place in a segment that later section numbers refer to.
type anchor struct {
	pos   int
	doc   string // the repository Markdown file, "" for an RFC or a file that is not there
	named string // a document cited by name instead of by path
	stop  bool   // a paragraph break
}

// namedDocs are documents cited by a name instead of their path: a
// section number after the name is reported with the path to write.
var namedDocs = []struct {
	re   *regexp.Regexp
	path string
}{
	{regexp.MustCompile(`(?i)\binterop recipe\b`), "docs/interop-recipe.md"},
}

var (
	// paragraphRE ends a paragraph of Markdown or of a Go comment.
	paragraphRE = regexp.MustCompile(`\n[ \t]*(?://)?[ \t]*\n`)
	// yamlEntryRE starts a new YAML key or list item.
	yamlEntryRE = regexp.MustCompile(`\n[ \t]*(?:- |[\w.-]+:)`)
)

// check returns the problems of one segment of file f.
func (r *repo) check(f string, s segment) []string {
	blank := func(u string) string { return strings.Repeat(" ", len(u)) }
	// A Markdown link to a URL names what is behind the URL, not a file
	// here ("[conn.go](https://…)").
	text := urlRE.ReplaceAllStringFunc(linkRE.ReplaceAllStringFunc(s.text, blank), blank)
	lineAt := func(off int) int { return s.line + strings.Count(text[:off], "\n") }
	var problems []string
	report := func(off int, format string, a ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: ", f, lineAt(off))+fmt.Sprintf(format, a...))
	}

	var anchors []anchor
	if path.Ext(f) == ".md" && strings.HasPrefix(f, "docs/") {
		anchors = append(anchors, anchor{pos: -1, doc: f}) // a doc's own sections
	}
	for _, loc := range pathRE.FindAllStringIndex(text, -1) {
		start, end := loc[0], loc[1]
		if start > 0 && strings.ContainsRune("$%@{", rune(text[start-1])) {
			continue // a variable, an address, a template
		}
		tok := strings.TrimRight(text[start:end], ".,:;")
		end = start + len(tok)
		prefix := end < len(text) && strings.ContainsRune("*<{", rune(text[end]))
		target, cited := r.resolve(f, tok, s.code, prefix)
		if !cited {
			continue
		}
		if target == "" {
			report(start, "cites %q, which is not a file in the repository", tok)
		}
		if strings.HasSuffix(tok, ".md") {
			anchors = append(anchors, anchor{pos: start, doc: target})
		}
	}
	if s.code {
		return problems
	}
	for _, loc := range otherAnchorRE.FindAllStringIndex(text, -1) {
		anchors = append(anchors, anchor{pos: loc[0]})
	}
	for _, n := range namedDocs {
		for _, loc := range n.re.FindAllStringIndex(text, -1) {
			anchors = append(anchors, anchor{pos: loc[0], named: n.path})
		}
	}
	stops := paragraphRE
	if ext := path.Ext(f); ext == ".yaml" || ext == ".yml" {
		stops = yamlEntryRE
	}
	for _, loc := range stops.FindAllStringIndex(text, -1) {
		anchors = append(anchors, anchor{pos: loc[0], stop: true})
	}
	sort.SliceStable(anchors, func(i, j int) bool { return anchors[i].pos < anchors[j].pos })

	for _, m := range sectionRE.FindAllStringSubmatchIndex(text, -1) {
		a := lastAnchor(anchors, m[0])
		if a.named != "" {
			report(m[0], "cites %s by name; write its path: %s %s", a.named, a.named, text[m[0]:m[1]])
			continue
		}
		if a.doc == "" {
			continue
		}
		num := text[m[2]:m[3]]
		var letters []string
		if m[4] >= 0 {
			l := text[m[4]:m[5]]
			letters = []string{l[:1]}
			if len(l) == 3 { // "b-c": b and c
				for c := l[0] + 1; c <= l[2]; c++ {
					letters = append(letters, string(c))
				}
			}
		} else {
			letters = []string{""}
		}
		have := r.sectionsOf(a.doc)
		for _, l := range letters {
			if !have[num+l] {
				report(m[0], "%s has no section §%s", a.doc, num+l)
			}
		}
	}

	for _, m := range testNameRE.FindAllStringSubmatchIndex(text, -1) {
		pkg, name := "", text[m[4]:m[5]]
		if m[2] >= 0 {
			pkg = text[m[2]:m[3]]
		}
		dirs := r.tests[name]
		ok := len(dirs) > 0
		if ok && pkg != "" {
			ok = slices.ContainsFunc(dirs, func(d string) bool { return path.Base(d) == pkg })
		}
		if !ok {
			report(m[0], "cites test %q, which no _test.go file declares", text[m[0]:m[1]])
		}
	}
	return problems
}

// lastAnchor is the anchor a section number at pos refers to: the last
// one before it in the same paragraph. A paragraph break goes back to the
// segment's own document (a doc's own sections), if it has one.
func lastAnchor(anchors []anchor, pos int) anchor {
	var own, a anchor
	if len(anchors) > 0 && anchors[0].pos < 0 {
		own = anchors[0]
	}
	a = own
	for _, x := range anchors {
		if x.pos >= pos {
			break
		}
		if x.stop {
			a = own
		} else {
			a = x
		}
	}
	return a
}

// resolve decides whether tok, found in file f, cites a file, and if so
// which repository path it names ("" when there is none). A token cites
// a file when it is an absolute path to a document, a relative path that
// starts in the repository (or any path to a document outside a Go
// string), or a bare document or Go file name.
func (r *repo) resolve(f, tok string, code, prefix bool) (target string, cited bool) {
	tok = strings.TrimSuffix(tok, "/")
	if tok == "" || !strings.ContainsAny(tok, "/.") {
		return "", false
	}
	isDoc := strings.HasSuffix(tok, ".md")
	if strings.HasPrefix(tok, "/") || strings.HasPrefix(tok, "~") {
		return "", isDoc && !code
	}
	dir := path.Dir(f)
	if !strings.Contains(tok, "/") {
		if !slices.Contains(docExts, path.Ext(tok)) || code && !isDoc {
			return "", false
		}
		for _, p := range []string{path.Join(dir, tok), tok} {
			if r.exists(p, false) {
				return p, true
			}
		}
		if !isDoc { // a Go file named without its directory
			if ps := r.base[tok]; len(ps) > 0 {
				return ps[0], true
			}
		}
		return "", true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(tok, "./"), "/")
	inRepo := r.top[first]
	if first == ".." {
		// Relative to the citing file: a document (a Markdown link),
		// else a path printed by some other program ("../ssl/…").
		joined := path.Join(dir, tok)
		inRepo = isDoc && !strings.HasPrefix(joined, "..")
	}
	// A path without an extension looks cited only where its directory
	// is the repository's: "postfix/smtps/smtpd" in a maillog names a
	// Postfix program, not the repository's postfix/ directory.
	looksLikePath := path.Ext(tok) != "" || strings.Count(tok, "/") >= 2 && r.exists(path.Dir(path.Clean(tok)), false)
	switch {
	case code && !isDoc:
		return "", false // a path the code uses, not a citation
	case inRepo && looksLikePath:
	case isDoc && (!code || inRepo):
	default:
		return "", false
	}
	for _, p := range []string{path.Join(dir, tok), path.Clean(tok)} {
		if strings.HasPrefix(p, "../") {
			continue
		}
		if r.exists(p, prefix) {
			return p, true
		}
	}
	return "", true
}

// exists says whether p is a file or directory, or, for a prefix, the
// start of the name of one.
func (r *repo) exists(p string, prefix bool) bool {
	if _, err := fs.Stat(r.fsys, p); err == nil {
		return true
	}
	if !prefix {
		return false
	}
	entries, err := fs.ReadDir(r.fsys, path.Dir(p))
	if err != nil {
		return false
	}
	return slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return strings.HasPrefix(e.Name(), path.Base(p)) })
}

var headingRE = regexp.MustCompile(`(?m)^#{1,6}\s+§(\d+(?:\.\d+)*[a-z]?)`)

// sectionsOf returns the § labels of a Markdown file's headings
// ("## §6a. …" gives "6a").
func (r *repo) sectionsOf(doc string) map[string]bool {
	if s, ok := r.sections[doc]; ok {
		return s
	}
	s := map[string]bool{}
	if data, err := fs.ReadFile(r.fsys, doc); err == nil {
		for _, m := range headingRE.FindAllStringSubmatch(string(data), -1) {
			s[m[1]] = true
		}
	}
	r.sections[doc] = s
	return s
}
