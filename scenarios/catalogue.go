package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mxlab/mxlab/internal/catalog"
	"github.com/mxlab/mxlab/internal/strictyaml"
	"github.com/mxlab/mxlab/tlsalert"
)

//go:embed builtin/*.yaml servers/*.yaml
var builtinFS embed.FS

// Catalogue is a validated set of scenarios and the dialects they imitate.
type Catalogue struct {
	list     catalog.List[*Scenario]
	dialects map[string]*Dialect
}

// ErrUnknown is wrapped by errors for a scenario or dialect name that is
// not in the catalogue.
var ErrUnknown = catalog.ErrUnknown

func newCatalogue() *Catalogue {
	return &Catalogue{
		list:     catalog.List[*Scenario]{Name: func(s *Scenario) string { return s.Name }},
		dialects: map[string]*Dialect{},
	}
}

// Builtin returns the embedded catalogue.
func Builtin() (*Catalogue, error) {
	c := newCatalogue()
	if err := c.addFS(builtinFS, "", "servers", c.addDialect); err != nil {
		return nil, err
	}
	if err := c.addFS(builtinFS, "", "builtin", c.addScenarioData); err != nil {
		return nil, err
	}
	// Built-ins list in the order of their default ports, which is the
	// order the README and the manifest show them in.
	sort.SliceStable(c.list.Items, func(i, j int) bool { return c.list.Items[i].Port < c.list.Items[j].Port })
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load returns the embedded catalogue plus the scenarios (and dialects, in a
// servers/ subdirectory) of each directory, plus scenarios given inline (as
// decoded from a config file under `scenarios:`, named by source in errors).
func Load(dirs []string, inline []map[string]any, source string) (*Catalogue, error) {
	c, err := Builtin()
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("scenarios: scenario directory: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("scenarios: scenario directory %s: not a directory", dir)
		}
		fsys := os.DirFS(dir)
		if st, err := fs.Stat(fsys, "servers"); err == nil && st.IsDir() {
			if err := c.addFS(fsys, dir, "servers", c.addDialect); err != nil {
				return nil, err
			}
		}
		if err := c.addFS(fsys, dir, ".", c.addScenarioData); err != nil {
			return nil, err
		}
	}
	for i, m := range inline {
		data, err := yaml.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("scenarios: %s: scenarios[%d]: %w", source, i, err)
		}
		if err := c.addScenarioData(fmt.Sprintf("%s: scenarios[%d]", source, i), data); err != nil {
			return nil, err
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// addFS feeds every YAML file of dir to add.
func (c *Catalogue) addFS(fsys fs.FS, label, dir string, add func(file string, data []byte) error) error {
	if err := catalog.ReadDir(fsys, label, dir, add); err != nil {
		return fmt.Errorf("scenarios: %w", err)
	}
	return nil
}

func (c *Catalogue) addDialect(file string, data []byte) error {
	d := &Dialect{}
	if err := strictyaml.Decode(data, d); err != nil {
		return fmt.Errorf("scenarios: %s: %w", file, err)
	}
	if err := d.validate(); err != nil {
		return fmt.Errorf("scenarios: %s: %w", file, err)
	}
	d.File = file
	if prev, ok := c.dialects[d.Name]; ok {
		return fmt.Errorf("scenarios: %s: dialect %q is already defined in %s", file, d.Name, prev.File)
	}
	c.dialects[d.Name] = d
	return nil
}

func (c *Catalogue) addScenarioData(file string, data []byte) error {
	s := &Scenario{}
	if err := strictyaml.Decode(data, s); err != nil {
		return fmt.Errorf("scenarios: %s: %w", file, err)
	}
	s.applyDefaults()
	if err := s.validate(); err != nil {
		return fmt.Errorf("scenarios: %s: %w", file, err)
	}
	s.File = file
	for _, prev := range c.list.Items {
		if prev.Name == s.Name {
			return fmt.Errorf("scenarios: %s: scenario %q is already defined in %s", file, s.Name, prev.File)
		}
	}
	c.list.Items = append(c.list.Items, s)
	return nil
}

// check verifies what spans files: every scenario names a known dialect,
// and default ports do not collide.
func (c *Catalogue) check() error {
	ports := map[int]string{}
	for _, s := range c.list.Items {
		if _, ok := c.dialects[s.Imitates]; !ok {
			return fmt.Errorf("scenarios: %s: imitates: %w %q (known: %s)", s.File, ErrUnknown, s.Imitates, strings.Join(c.DialectNames(), ", "))
		}
		if s.Port == 0 {
			continue
		}
		if other, ok := ports[s.Port]; ok {
			return fmt.Errorf("scenarios: %s: port: %d is already the port of %s", s.File, s.Port, other)
		}
		ports[s.Port] = s.Name
	}
	return nil
}

// All returns the scenarios in catalogue order: built-ins first, in the
// order of their default ports, then the user's.
func (c *Catalogue) All() []*Scenario { return append([]*Scenario(nil), c.list.Items...) }

// Names returns the scenario names in catalogue order.
func (c *Catalogue) Names() []string { return c.list.Names() }

// Get returns the named scenario; the error lists the valid names.
func (c *Catalogue) Get(name string) (*Scenario, error) {
	s, err := c.list.Get(name)
	if err != nil {
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	return s, nil
}

// Select returns the named scenarios in catalogue order, or all of them
// when names is empty.
func (c *Catalogue) Select(names []string) ([]*Scenario, error) {
	out, err := c.list.Select(names)
	if err != nil {
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	return out, nil
}

// Dialect returns the named dialect.
func (c *Catalogue) Dialect(name string) (*Dialect, error) {
	if d, ok := c.dialects[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("scenarios: dialect: %w %q (known: %s)", ErrUnknown, name, strings.Join(c.DialectNames(), ", "))
}

// DialectNames returns the dialect names, sorted.
func (c *Catalogue) DialectNames() []string {
	names := make([]string, 0, len(c.dialects))
	for n := range c.dialects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func parseAlert(s string) (tlsalert.Description, error) { return tlsalert.ParseDescription(s) }
