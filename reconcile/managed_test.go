package reconcile_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/stsexport"
	"github.com/stsorgsync/stsorgsync/translate"
)

// TestReadManaged: after a sync, ReadManaged returns every unit, user, function, address and
// person STS holds (not passivated) and the Organisation, each as STS holds it, with reads only;
// another Organisation's unit is left out and counted, an address named that STS does not hold
// is counted as unresolved, a passivated user is left out.
func TestReadManaged(t *testing.T) {
	e := newEnv(t, motest.GenerateOrg(motest.GenOptions{Seed: 7, Units: 8, Persons: 30, Today: time.Now()}))
	if _, err := e.engine(t, nil).Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	orgObj, err := ststest.Organisation{UUID: org, CVR: "29189846"}.Object(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.sts.Put(orgObj)
	// Another municipality's unit, which a service without CVR scope lists too.
	other := e.sts.Objects(oio.KindOrganisationEnhed)[0]
	other.UUID = uuid.New()
	for i, r := range other.Registration.Relationer {
		if r.Name == oio.RelTilhoerer {
			other.Registration.Relationer[i].Ref = uuid.New()
		}
	}
	e.sts.Put(other)
	// A unit of the municipality (not the other one, whose random UUID may sort anywhere) naming
	// an address STS does not hold.
	units := e.sts.Objects(oio.KindOrganisationEnhed)
	unit := units[0]
	if unit.UUID == other.UUID {
		unit = units[1]
	}
	v := unit.Registration.Relationer[0].Virkning
	unit.Registration.Relationer = append(unit.Registration.Relationer, oio.Relation{Name: oio.RelAdresser, Virkning: v,
		Ref: uuid.New(), Rolle: uuid.New(), Type: uuid.New(), Indeks: "x"})
	translate.SortRelations(oio.KindOrganisationEnhed, unit.Registration.Relationer)
	e.sts.Put(unit)
	// A passivated user.
	gone := e.sts.Objects(oio.KindBruger)[0]
	gone.Registration.Livscyklus = oio.LivscyklusPassiveret
	e.sts.Put(gone)

	e.sts.ResetCalls()
	var phases []string
	var mu sync.Mutex
	m, err := e.engine(t, func(o *reconcile.Options) {
		o.Progress = func(p reconcile.Progress) { // called concurrently, as the sync's
			mu.Lock()
			defer mu.Unlock()
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		}
	}).ReadManaged(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := writes(e.sts.Calls()); n != 0 {
		t.Errorf("ReadManaged wrote %d times", n)
	}
	if m.Calls != e.sts.TotalCalls() {
		t.Errorf("Calls %d, the fake counted %d", m.Calls, e.sts.TotalCalls())
	}
	if m.OtherOrganisations != 1 || m.Unresolved != 1 {
		t.Errorf("other organisations %d, unresolved %d; want 1 and 1", m.OtherOrganisations, m.Unresolved)
	}
	if !reflect.DeepEqual(phases, []string{"STS", "STS objects"}) {
		t.Errorf("progress phases %v", phases)
	}
	// The addresses and persons the units, users and functions name (those of the passivated user
	// not), as an oracle from the fake's state.
	named := map[uuid.UUID]bool{}
	for _, kind := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindOrganisationFunktion} {
		for _, o := range e.sts.Objects(kind) {
			if o.Exists() && o.UUID != other.UUID {
				for _, r := range o.Registration.Relationer {
					if r.Name == oio.RelAdresser || r.Name == oio.RelTilknyttedePersoner {
						named[r.Ref] = true
					}
				}
			}
		}
	}
	for _, kind := range stsexport.Kinds() {
		var want []*oio.Object
		for _, o := range e.sts.Objects(kind) {
			if o.Exists() && o.UUID != other.UUID && (kind != oio.KindAdresse && kind != oio.KindPerson || named[o.UUID]) {
				want = append(want, o.InUTC())
			}
		}
		var got []*oio.Object
		for _, o := range m.Objects[kind] {
			got = append(got, o.InUTC())
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read %d objects, STS holds %d (or they differ)", kind, len(got), len(want))
		}
	}
	if len(m.All()) != len(m.Objects[oio.KindOrganisationEnhed])+len(m.Objects[oio.KindBruger])+len(m.Objects[oio.KindOrganisationFunktion])+
		len(m.Objects[oio.KindAdresse])+len(m.Objects[oio.KindPerson])+1 {
		t.Errorf("All returns %d objects", len(m.All()))
	}
}

// TestExportScale measures ReadManaged and the export file of generated municipalities after
// their initial load. It runs only when STSORGSYNC_EXPORT_SCALE lists sizes as units/persons:
//
//	STSORGSYNC_EXPORT_SCALE=300/4500 go test ./reconcile -run TestExportScale -v -timeout 1h
//
// As TestFullSyncScale, the fake runs in this process over HTTP without KOMBIT's security
// profile. With STSORGSYNC_EXPORT_DIR=dir the export files are also written into dir (e.g. for
// fakests -load).
func TestExportScale(t *testing.T) {
	spec := os.Getenv("STSORGSYNC_EXPORT_SCALE")
	if spec == "" {
		t.Skip("set STSORGSYNC_EXPORT_SCALE=units/persons[,…] to measure exports")
	}
	for size := range strings.SplitSeq(spec, ",") {
		u, p, _ := strings.Cut(size, "/")
		units, err1 := strconv.Atoi(u)
		persons, err2 := strconv.Atoi(p)
		if err1 != nil || err2 != nil {
			t.Fatalf("STSORGSYNC_EXPORT_SCALE: %q is not units/persons", size)
		}
		t.Run(size, func(t *testing.T) {
			e := newEnv(t, motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: units, Persons: persons, Today: time.Now()}))
			if _, err := e.engine(t, quiet).Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.sts.ResetCalls()
			start := time.Now()
			m, err := e.engine(t, quiet).ReadManaged(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			read := time.Since(start)
			var file bytes.Buffer
			n, err := stsexport.Write(&file, stsexport.Header{ExportedAt: m.ReadAt.UTC(), CVR: "29189846", Organisation: org}, m.All(), stsexport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			_, _ = io.Copy(zw, bytes.NewReader(file.Bytes()))
			_ = zw.Close()
			t.Logf("%d units, %d persons: %d objects, read in %s (%d STS calls), written in %s; %d bytes (%d gzipped)",
				units, persons, len(m.All()), read.Round(time.Millisecond), m.Calls, (took - read).Round(time.Millisecond), n, gz.Len())
			if dir := os.Getenv("STSORGSYNC_EXPORT_DIR"); dir != "" {
				// For measuring `fakests -load` and the binary's `stsorgsync export` against it.
				path := filepath.Join(dir, fmt.Sprintf("export-%d-%d.jsonl", units, persons))
				if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", path)
			}
		})
	}
}
