// Package strictyaml decodes the project's data files (scenarios,
// dialects, profiles) so that a key the type lacks is an error, not a
// silently ignored typo.
package strictyaml

import (
	"bytes"
	"errors"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes exactly one YAML document into v, refusing unknown keys.
// Type errors come back as one line per problem, joined with "; ".
func Decode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return errors.New(strings.Join(te.Errors, "; "))
		}
		return err
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return errors.New("more than one YAML document")
	}
	return nil
}
