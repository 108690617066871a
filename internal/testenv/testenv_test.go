package testenv

import (
	"net/http"
	"net/url"
	"testing"
)

func TestVHostAt(t *testing.T) {
	api := managementAPI()
	if _, err := Management(http.MethodGet, "/api/overview", "", nil); err != nil {
		unavailable(t, "RabbitMQ", err)
	}
	base, err := url.Parse(env("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
	if err != nil {
		t.Fatal(err)
	}
	user := base.User.Username()
	vhost := UniqueName("testenv-")
	if err := CreateVHostAt(api, vhost, user); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DeleteVHostAt(api, vhost) })
	var perms []struct {
		User      string `json:"user"`
		Configure string `json:"configure"`
		Write     string `json:"write"`
		Read      string `json:"read"`
	}
	if _, err := ManagementAt(api, http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost)+"/permissions", "", &perms); err != nil {
		t.Fatal(err)
	}
	if len(perms) != 1 || perms[0].User != user || perms[0].Configure != ".*" || perms[0].Write != ".*" || perms[0].Read != ".*" {
		t.Errorf("permissions on %s: %+v", vhost, perms)
	}
	if err := DeleteVHostAt(api, vhost); err != nil {
		t.Fatal(err)
	}
	if status, err := ManagementAt(api, http.MethodGet, vhostPath(vhost), "", nil); status != http.StatusNotFound {
		t.Errorf("vhost %s after DeleteVHostAt: HTTP %d, %v", vhost, status, err)
	}
	if err := DeleteVHostAt(api, vhost); err != nil {
		t.Errorf("deleting a vhost already gone: %v", err)
	}
}

func TestAMQPDeletesItsVHost(t *testing.T) {
	var vhost string
	t.Run("broker", func(t *testing.T) {
		b := AMQP(t)
		vhost = b.VHost
		if _, err := Management(http.MethodGet, vhostPath(vhost), "", nil); err != nil {
			t.Fatalf("vhost %s: %v", vhost, err)
		}
	})
	if vhost == "" {
		t.Skip("no broker")
	}
	if status, _ := Management(http.MethodGet, vhostPath(vhost), "", nil); status != http.StatusNotFound {
		t.Errorf("vhost %s after the test: HTTP %d", vhost, status)
	}
}
