package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsexport"
)

// writeExport writes an export of one unit of the Organisation org to a file and returns its
// path and the unit.
func writeExport(t *testing.T, org uuid.UUID) (string, *oio.Object) {
	t.Helper()
	v := oio.Virkning{From: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	unit := &oio.Object{Kind: oio.KindOrganisationEnhed, UUID: uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7"), Registration: oio.Registration{
		Tidspunkt: time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC), Livscyklus: oio.LivscyklusImporteret, BrugerRef: org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: "OKO", Navn: "Økonomi"}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: org}},
	}}
	path := filepath.Join(t.TempDir(), "export.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stsexport.Write(f, stsexport.Header{CVR: "29189846", Organisation: org}, []*oio.Object{unit}, stsexport.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, unit
}

// TestLoadExport: -load serves the objects of an export file from the start; a file that is
// incomplete stops the start with exit 1 and says why.
func TestLoadExport(t *testing.T) {
	org := uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	path, unit := writeExport(t, org)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &syncBuffer{}
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, []string{"-listen", "127.0.0.1:0"}, func(k string) string {
			return map[string]string{"FAKESTS_LOAD": path}[k]
		}, logs, func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("exited with %d: %s", code, logs)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	client, err := stsclient.New(stsclient.Config{BaseURL: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.Read(t.Context(), oio.KindOrganisationEnhed, unit.UUID)
	if err != nil || got.Registration.Egenskaber[0].Navn != "Økonomi" {
		t.Fatalf("laes of the loaded unit: %+v, %v", got, err)
	}
	if !strings.Contains(logs.String(), `"msg":"fakests loaded an export"`) || !strings.Contains(logs.String(), `"objects":1`) {
		t.Errorf("no log line of the load:\n%s", logs)
	}
	cancel()
	<-done

	// The same file without its last line: refused.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if err := os.WriteFile(path, []byte(lines[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	if code := runWith(t.Context(), []string{"-listen", "127.0.0.1:0", "-load", path}, func(string) string { return "" }, logs, nil); code != 1 ||
		!strings.Contains(logs.String(), "0 organisationenhed lines, the header says 1") {
		t.Errorf("an incomplete export: exit %d, want 1 with the reason:\n%s", code, logs)
	}
	if code := runWith(t.Context(), []string{"-listen", "127.0.0.1:0", "-load", filepath.Join(t.TempDir(), "none.jsonl")}, func(string) string { return "" }, io.Discard, nil); code != 1 {
		t.Errorf("a missing export: exit %d, want 1", code)
	}
}
