package amqpdial

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
)

func TestParseURLs(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		want    []string // addresses
		wantErr string   // substring of the error
	}{
		{"one node", "amqp://u:secret@rabbit:5672/", []string{"rabbit:5672"}, ""},
		{"default port", "amqps://u:secret@rabbit/vh", []string{"rabbit:5671"}, ""},
		{"three nodes, spaces", "amqp://u:secret@a:5672/vh, amqp://u:secret@b:5673/vh ,amqp://u:secret@c/vh",
			[]string{"a:5672", "b:5673", "c:5672"}, ""},
		{"empty entry", "amqp://u:secret@a/,,amqp://u:secret@b/", nil, "entry 2 of 3: empty"},
		{"mixed schemes", "amqps://u:secret@a/,amqp://u:secret@b/", nil, "entry 2 of 2: amqp:// but entry 1 is amqps://"},
		{"wrong scheme", "amqp://u:secret@a/,http://u:secret@b/", nil, `entry 2 of 2: expected a URL with scheme amqp or amqps, got scheme "http"`},
		{"no host", "amqp://u:secret@a/,amqp:///", nil, "entry 2 of 2: expected a URL with a host"},
		{"bad port", "amqp://u:secret@a:99x/", nil, "expected a URL with scheme amqp or amqps such as"},
		{"unescaped password", "amqp://u:se#cret@a/", nil, "expected a URL with scheme amqp or amqps such as"},
		{"other vhost", "amqp://u:secret@a/one,amqp://u:secret@b/two", nil, `entry 2 of 2: vhost "two" but entry 1 has "one"`},
		{"other user", "amqp://u:secret@a/,amqp://v:secret@b/", nil, `entry 2 of 2: user "v"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := ParseURLs(tt.list)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "cret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range nodes {
				got = append(got, n.Addr)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("addresses = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewRefusesInsecureTLS(t *testing.T) {
	_, err := New(Config{URLs: "amqps://u:p@a/", TLS: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // the point of the test
	if err == nil {
		t.Fatal("New accepted InsecureSkipVerify")
	}
}

// closedPort returns a port on 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// withHost returns raw (an AMQP URL) with its host:port replaced.
func withHost(t *testing.T, raw, hostport string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = hostport
	return u.String()
}

// TestDialSkipsADeadNode: the first node refuses TCP; Dial goes on to the next, says which, and
// fails naming every node (host:port, no password) when none answers.
func TestDialSkipsADeadNode(t *testing.T) {
	b := testenv.AMQP(t)
	dead := withHost(t, b.URL, fmt.Sprintf("127.0.0.1:%d", closedPort(t)))
	u, _ := url.Parse(b.URL)
	d, err := New(Config{URLs: dead + "," + b.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	conn, addr, err := d.Dial(t.Context(), "amqpdial test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if addr != u.Host {
		t.Errorf("connected to %s, want %s", addr, u.Host)
	}

	d, err = New(Config{URLs: dead + "," + dead, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Dial(t.Context(), "amqpdial test")
	if err == nil {
		t.Fatal("Dial succeeded with no node up")
	}
	pw, _ := u.User.Password()
	if !strings.Contains(err.Error(), "no node of 2") || strings.Contains(err.Error(), ":"+pw+"@") {
		t.Errorf("error = %v, want one naming both nodes without the password", err)
	}
}

// TestDialMovesOnAfterALostConnection: one broker under two addresses (two "nodes"). A connection
// the broker closes (its vhost deleted) moves the next Dial to the other node; a connection closed
// by us does not.
func TestDialMovesOnAfterALostConnection(t *testing.T) {
	b := testenv.AMQP(t)
	u, _ := url.Parse(b.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	first, second := "127.0.0.1:"+port, "localhost:"+port
	d, err := New(Config{URLs: withHost(t, b.URL, first) + "," + withHost(t, b.URL, second)})
	if err != nil {
		t.Fatal(err)
	}
	dial := func(want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		conn, addr, err := d.Dial(ctx, "amqpdial test")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if addr != want {
			t.Fatalf("connected to %s, want %s", addr, want)
		}
	}
	dial(first)
	dial(first) // closed by us: stays

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, _, err := d.Dial(ctx, "amqpdial test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	vhost := "/api/vhosts/" + url.PathEscape(b.VHost)
	if _, err := testenv.Management(http.MethodDelete, vhost, "", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		d.mu.Lock()
		start := d.start
		d.mu.Unlock()
		if start == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dialer did not move on after the broker closed the connection")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := testenv.Management(http.MethodPut, vhost, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.Management(http.MethodPut, "/api/permissions/"+url.PathEscape(b.VHost)+"/"+url.PathEscape(u.User.Username()),
		`{"configure":".*","write":".*","read":".*"}`, nil); err != nil {
		t.Fatal(err)
	}
	dial(second)
}
