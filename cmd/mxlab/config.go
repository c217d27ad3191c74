package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/server"
)

// Config is everything a command can be configured with: from the YAML
// config file, MXLAB_* environment variables and flags, in rising order
// of precedence. Viper fills it once; it is passed down, never global.
type Config struct {
	Zone         string            `mapstructure:"zone"`
	StateDir     string            `mapstructure:"state_dir"`
	DNS          string            `mapstructure:"dns"`
	SMTP         SMTPConfig        `mapstructure:"smtp"`
	Only         []string          `mapstructure:"only"`
	ScenarioDirs []string          `mapstructure:"scenario_dirs"`
	Scenarios    []map[string]any  `mapstructure:"scenarios"`
	Records      []string          `mapstructure:"records"`
	SessionsFile string            `mapstructure:"sessions_file"`
	AcceptedFile string            `mapstructure:"accepted_file"`
	Manifest     string            `mapstructure:"manifest"`
	AuthUsers    map[string]string `mapstructure:"auth_users"`
	Timeouts     TimeoutsConfig    `mapstructure:"timeouts"`
	Limits       LimitsConfig      `mapstructure:"limits"`
	Log          LogConfig         `mapstructure:"log"`
	// API is the HTTP API's address ("-" for none).
	API string `mapstructure:"api"`
	// APIToken is required on every API call when set.
	APIToken string `mapstructure:"api_token"`
	// APIPublic allows the API on an address beyond loopback (with a
	// token only).
	APIPublic bool `mapstructure:"api_public"`
	// APITokenGenerate makes up a token, printed at start, when an API
	// beyond loopback has none (the image's entrypoint).
	APITokenGenerate bool `mapstructure:"api_token_generate"`
	// Switchboard is the switchboard listener's address ("-" for none).
	Switchboard string `mapstructure:"switchboard"`
	// SwitchboardScenario is the switchboard's first scenario.
	SwitchboardScenario string `mapstructure:"switchboard_scenario"`
	// Spool is a Maildir directory for accepted messages ("" keeps
	// them in memory).
	Spool string `mapstructure:"spool"`
	// Store bounds the message store.
	Store StoreConfig `mapstructure:"store"`
	// Ephemeral binds every listener on a free port.
	Ephemeral bool `mapstructure:"ephemeral"`
	// DNSSEC is serve's DNS mode: ad (the lab sets AD) or signed (a
	// validating resolver with the trust anchor does).
	DNSSEC string `mapstructure:"dnssec"`
	source string // the config file, for error messages
}

// StoreConfig bounds the message store (0: msgstore's defaults).
type StoreConfig struct {
	MaxMessages int   `mapstructure:"max_messages"`
	MaxBytes    int64 `mapstructure:"max_bytes"`
}

// SMTPConfig places the SMTP listeners.
type SMTPConfig struct {
	Host string `mapstructure:"host"`
	Port int    `mapstructure:"port"`
	Net  string `mapstructure:"net"`
	// Advertise is the address the lab's DNS publishes for the
	// listeners (needed when Host is 0.0.0.0 or ::).
	Advertise string `mapstructure:"advertise"`
}

// TimeoutsConfig bounds each SMTP phase.
type TimeoutsConfig struct {
	Command   time.Duration `mapstructure:"command"`
	Handshake time.Duration `mapstructure:"handshake"`
	Session   time.Duration `mapstructure:"session"`
}

// LimitsConfig bounds what a client may do (server.Limits): 0 takes
// the imitated server's default, -1 turns a limit off. The connection
// limits are off by default.
type LimitsConfig struct {
	Recipients           int   `mapstructure:"recipients"`
	Errors               int   `mapstructure:"errors"`
	MessageBytes         int64 `mapstructure:"message_size"`
	Connections          int   `mapstructure:"connections"`
	ConnectionsPerClient int   `mapstructure:"connections_per_client"`
}

// LogConfig sets the log level.
type LogConfig struct {
	Level string `mapstructure:"level"`
}

// errConfig marks configuration errors (exit 78, EX_CONFIG).
var errConfig = errors.New("bad configuration")

// flagKeys maps flags to config keys.
var flagKeys = map[string]string{
	"zone":          "zone",
	"state-dir":     "state_dir",
	"dns":           "dns",
	"smtp-host":     "smtp.host",
	"smtp-port":     "smtp.port",
	"smtp-net":      "smtp.net",
	"advertise":     "smtp.advertise",
	"scenario":      "only",
	"scenarios":     "only",
	"scenario-dir":  "scenario_dirs",
	"record":        "records",
	"dnssec":        "dnssec",
	"sessions-file": "sessions_file",
	"accepted-file": "accepted_file",
	"manifest":      "manifest",
	"log-level":     "log.level",

	"limit-recipients":             "limits.recipients",
	"limit-errors":                 "limits.errors",
	"limit-message-size":           "limits.message_size",
	"limit-connections":            "limits.connections",
	"limit-connections-per-client": "limits.connections_per_client",

	"api":                  "api",
	"api-token":            "api_token",
	"api-public":           "api_public",
	"api-token-generate":   "api_token_generate",
	"switchboard":          "switchboard",
	"switchboard-scenario": "switchboard_scenario",
	"spool":                "spool",
	"store-max-messages":   "store.max_messages",
	"store-max-bytes":      "store.max_bytes",
	"ephemeral":            "ephemeral",
}

// addLabFlags declares the flags that shape a lab.
func addLabFlags(fs *pflag.FlagSet) {
	fs.String("zone", lab.DefaultZone, "the lab's DNS zone")
	fs.String("state-dir", "", "where the lab keeps its CA, keys and sessions file (default "+lab.DefaultStateDir()+")")
	fs.String("dns", lab.DefaultDNS, "DNS server address (127.0.0.1:53 to be where MTAs look)")
	fs.String("smtp-host", "127.0.0.1", "address of every SMTP listener, one port per scenario")
	fs.Int("smtp-port", 0, "shared-port layout: every scenario on this port, one address each from --smtp-net")
	fs.String("smtp-net", "127.0.1.0/24", "network the shared-port layout takes addresses from")
	fs.String("advertise", "", "address the lab's DNS publishes for its MX hosts (needed with --smtp-host 0.0.0.0 or ::)")
	fs.StringSlice("scenario", nil, "run only these scenarios (repeatable; default all)")
	fs.StringSlice("scenario-dir", nil, "directory of extra scenario YAML files (repeatable)")
	fs.StringSlice("record", nil, `extra DNS record in zone-file syntax, e.g. "exim A 127.0.2.1" (repeatable)`)
}

// loadConfig reads the config file (if any), the environment and the
// flags into a Config. Unknown keys and wrong types are errors that name
// the file and the key.
func loadConfig(path string, flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix("MXLAB")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, k := range knownKeys() {
		// AutomaticEnv only sees keys viper knows of; bind them all.
		_ = v.BindEnv(k)
	}
	v.SetDefault("zone", lab.DefaultZone)
	v.SetDefault("dns", lab.DefaultDNS)
	v.SetDefault("dnssec", string(dnslab.ModeAD))
	v.SetDefault("smtp.net", "127.0.1.0/24")
	v.SetDefault("log.level", "info")
	v.SetDefault("api", DefaultAPI)
	v.SetDefault("switchboard", DefaultSwitchboard)
	if path == "" {
		path = os.Getenv("MXLAB_CONFIG")
	}
	if path != "" {
		if err := checkKeys(path); err != nil {
			return nil, err
		}
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: config %s: %w", errConfig, path, err)
		}
	}
	if flags != nil {
		flags.VisitAll(func(f *pflag.Flag) {
			if key, ok := flagKeys[f.Name]; ok {
				_ = v.BindPFlag(key, f)
			}
		})
	}
	cfg := &Config{source: path}
	err := v.Unmarshal(cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.WeaklyTypedInput = false
		// viper's own hooks, after one that refuses a bare number for a
		// duration (mapstructure would take "5" as 5 nanoseconds).
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(durationNeedsUnit,
			mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(","))
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errConfig, decodeError(err, path, flags))
	}
	return cfg, nil
}

// durationNeedsUnit refuses a number where a duration is wanted: "5"
// would be 5 nanoseconds, never what a config file's author meant.
func durationNeedsUnit(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Uint, reflect.Uint64:
		// mapstructure puts the key in front: "'timeouts.command' expected
		// type ...", the shape decodeError reads.
		return nil, fmt.Errorf("expected type 'time.Duration', got unconvertible type '%s', value: '%v'", from, data)
	}
	return data, nil
}

// mapstructureTypeRE finds the key and the types in mapstructure's
// wording ("'smtp.port' expected type 'int', got unconvertible type
// 'string', value: 'abc'"), which must not reach users as is (issue 15:
// no Go type names, the file, line and key, or the variable).
var mapstructureTypeRE = regexp.MustCompile(`'([^']+)' expected type '([^']+)', got unconvertible type '([^']+)'(?:, value: '([^']*)')?`)

// mapstructureDurationRE is a duration string time.ParseDuration refused
// ("'timeouts.command' time: missing unit in duration").
var mapstructureDurationRE = regexp.MustCompile(`'([^']+)' time: `)

// mapstructureListRE is a scalar where a list is wanted ("'scenarios'
// source data must be an array or slice, got int").
var mapstructureListRE = regexp.MustCompile(`'([^']+)' source data must be an array or slice`)

// mapstructureSectionRE is a scalar where a section is wanted
// ("'timeouts' expected a map or struct, got \"int\"").
var mapstructureSectionRE = regexp.MustCompile(`'([^']+)' expected a map or struct`)

// typeWords are Go's types in the words a config file's author uses.
var typeWords = map[string]string{
	"int": "a whole number", "int64": "a whole number", "uint16": "a port number",
	"bool": "true or false", "string": "text", "time.Duration": "a duration such as 30s or 5m",
	"[]string": "a list", "map[string]string": "a mapping of names to values",
	// a scenario written inline under scenarios: (FuzzConfig found the
	// Go type in "scenarios:\n  - 00").
	"map[string]interface {}":   "a scenario (a mapping of keys to values)",
	"[]map[string]interface {}": "a list of scenarios",
}

// decodeError says where a value of the wrong type came from: a flag, an
// MXLAB_* variable, or the config file's line.
func decodeError(err error, path string, flags *pflag.FlagSet) string {
	var key, want, value string
	if m := mapstructureTypeRE.FindStringSubmatch(err.Error()); m != nil {
		key, want, value = m[1], m[2], m[4]
	} else if m := mapstructureDurationRE.FindStringSubmatch(err.Error()); m != nil {
		key, want = m[1], "time.Duration"
	} else if m := mapstructureListRE.FindStringSubmatch(err.Error()); m != nil {
		key, want = m[1], "a list"
	} else if m := mapstructureSectionRE.FindStringSubmatch(err.Error()); m != nil {
		key, want = m[1], "a section of keys"
	} else {
		where := "configuration"
		if path != "" {
			where = "config " + path
		}
		// Any other decoder message, without the decoder's preamble.
		msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), "decoding failed due to the following error(s):"))
		return where + ": " + strings.Join(strings.Fields(msg), " ")
	}
	if w, ok := typeWords[want]; ok {
		want = w
	}
	what := fmt.Sprintf("%s: want %s", key, want)
	if value != "" {
		what = fmt.Sprintf("%s: %q is not %s", key, value, want)
	}
	if flags != nil {
		for name, k := range flagKeys {
			if f := flags.Lookup(name); k == key && f != nil && f.Changed {
				return "--" + name + ": " + what
			}
		}
	}
	env := "MXLAB_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
	if v, ok := os.LookupEnv(env); ok {
		if value == "" {
			what = fmt.Sprintf("%s: %q is not %s", key, v, want)
		}
		return env + ": " + what
	}
	if path != "" {
		if line, v := keyLine(path, key); line > 0 {
			if value == "" && v != "" {
				what = fmt.Sprintf("%s: %q is not %s", key, v, want)
			}
			return fmt.Sprintf("config %s: line %d: %s", path, line, what)
		}
		return "config " + path + ": " + what
	}
	return what
}

// keyLine is the line of a dotted key in a YAML file and its scalar
// value; 0 if not found.
func keyLine(path, key string) (int, string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, ""
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0, ""
	}
	n := doc.Content[0]
	line := 0
	for _, part := range strings.Split(key, ".") {
		if n.Kind != yaml.MappingNode {
			return 0, ""
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return 0, ""
		}
	}
	if n.Kind == yaml.ScalarNode {
		return line, n.Value
	}
	return line, ""
}

// knownKeys lists every config key, from the Config struct's tags.
func knownKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type, prefix+tag+".")
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	sort.Strings(keys)
	return keys
}

// checkKeys reports the first key of the file that Config lacks, with
// its line, before viper (which lower-cases and flattens) sees it.
func checkKeys(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: config: %w", errConfig, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%w: config %s: %w", errConfig, path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, k := range knownKeys() {
		known[k] = true
		if i := strings.LastIndex(k, "."); i > 0 {
			known[k[:i]] = true
		}
	}
	var check func(n *yaml.Node, prefix string) error
	check = func(n *yaml.Node, prefix string) error {
		if n.Kind != yaml.MappingNode {
			if prefix == "" {
				return fmt.Errorf("%w: config %s: want a mapping of keys at the top", errConfig, path)
			}
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := prefix + n.Content[i].Value
			if !known[key] {
				return fmt.Errorf("%w: config %s: line %d: unknown key %q (known: %s)", errConfig, path, n.Content[i].Line, key, strings.Join(knownKeys(), ", "))
			}
			// Maps with free keys (auth_users) and scenario definitions
			// (checked by the catalogue) are not walked.
			if key == "smtp" || key == "timeouts" || key == "log" || key == "store" || key == "limits" {
				if err := check(n.Content[i+1], key+"."); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return check(doc.Content[0], "")
}

// labConfig turns the config into the lab's, loading the catalogue.
func (c *Config) labConfig() (lab.Config, error) {
	cat, err := c.catalogue()
	if err != nil {
		return lab.Config{}, err
	}
	return lab.Config{
		Zone:         c.Zone,
		StateDir:     c.StateDir,
		DNS:          c.DNS,
		Addressing:   lab.Addressing{Host: c.SMTP.Host, Port: c.SMTP.Port, Net: c.SMTP.Net, Advertise: c.SMTP.Advertise},
		Catalogue:    cat,
		Scenarios:    c.Only,
		Records:      c.Records,
		SessionsFile: c.SessionsFile,
		AcceptedFile: c.AcceptedFile,
		Manifest:     c.Manifest,
		AuthUsers:    c.AuthUsers,
		Timeouts:     server.Timeouts(c.Timeouts),
		Limits:       server.Limits(c.Limits),
	}, nil
}

func (c *Config) catalogue() (*scenarios.Catalogue, error) {
	src := c.source
	if src == "" {
		src = "config"
	}
	cat, err := scenarios.Load(c.ScenarioDirs, c.Scenarios, src)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return cat, nil
}
