package moclient_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/moclient"
)

func TestConfigValidate(t *testing.T) {
	valid := moclient.Config{URL: "http://mo:5000", AuthServer: "http://keycloak:8080/auth", ClientID: "dipex", ClientSecret: "x"}
	tests := []struct {
		name    string
		mutate  func(*moclient.Config)
		wantErr []string // substrings; nil means valid
	}{
		{"defaults suffice", func(*moclient.Config) {}, nil},
		{"missing URL", func(c *moclient.Config) { c.URL = "" }, []string{"URL: must not be empty"}},
		{"URL without scheme", func(c *moclient.Config) { c.URL = "mo:5000" }, []string{"URL:"}},
		{"bad auth server", func(c *moclient.Config) { c.AuthServer = "ftp://kc" }, []string{"AuthServer:"}},
		{"unsupported version", func(c *moclient.Config) { c.GraphQLVersion = 22 }, []string{"GraphQLVersion: 22"}},
		{"missing credentials", func(c *moclient.Config) { c.ClientID, c.ClientSecret = "", "" }, []string{"ClientID:", "ClientSecret:"}},
		{"negative timeout", func(c *moclient.Config) { c.Timeout = -time.Second }, []string{"Timeout:"}},
		{"too many attempts", func(c *moclient.Config) { c.MaxAttempts = 50 }, []string{"MaxAttempts:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			err := cfg.WithDefaults().Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if _, err := moclient.New(cfg); err != nil {
					t.Fatalf("New() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
			if _, err := moclient.New(cfg); err == nil {
				t.Error("New() accepted an invalid config")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := moclient.Config{}.WithDefaults()
	if c.GraphQLVersion != 25 || c.Realm != "mo" || c.Timeout != moclient.DefaultTimeout || c.MaxAttempts != 3 ||
		c.HTTPClient == nil || c.Now == nil || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestParseTime(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2021-01-01T00:00:00+01:00", time.Date(2021, 1, 1, 0, 0, 0, 0, loc)},
		{"2021-07-01T00:00:00+02:00", time.Date(2021, 7, 1, 0, 0, 0, 0, loc)},
		{"2021-06-30T22:00:00Z", time.Date(2021, 7, 1, 0, 0, 0, 0, loc)},
		{"2021-07-01T00:00:00", time.Date(2021, 7, 1, 0, 0, 0, 0, loc)},
		{"2021-01-01", time.Date(2021, 1, 1, 0, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		got, err := moclient.ParseTime(tt.in, loc)
		if err != nil || !got.Equal(tt.want) || got.Location() != loc {
			t.Errorf("ParseTime(%q) = %v, %v; want %v in %v", tt.in, got, err, tt.want, loc)
		}
	}
	if _, err := moclient.ParseTime("yesterday", loc); err == nil {
		t.Error("ParseTime accepted garbage")
	}
}
