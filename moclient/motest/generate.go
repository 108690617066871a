package motest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// Dataset is a generated organisation, ready for [Server.Load]. Units are ordered parents first.
type Dataset struct {
	// Municipality is the municipality's name, e.g. "Kolding"; the top unit is "<Name> Kommune".
	Municipality string
	// Units are the organisation units, the top unit first.
	Units []moclient.OrgUnit
}

// genClass returns a class shared by all generated data. Its UUID is derived from the user key,
// so it is the same for every seed.
func genClass(userKey, name, scope string) moclient.Class {
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:stsorgsync:fakemo:class:"+userKey))
	return moclient.Class{UUID: id, UserKey: userKey, Name: name, Scope: scope}
}

type department struct {
	name     string
	subunits []string // "%s" is replaced by a place name
	kle      [2]string
}

func departments() []department {
	return []department{
		{"Teknik og Miljø", []string{"Vej og Park", "Byggesag", "Natur og Miljø", "Plan og Udvikling", "Materielgården %s"}, [2]string{"02.00.00", "Byggeri"}},
		{"Børn og Unge", []string{"%s Skole", "%s Børnehus", "Dagplejen %s", "Pædagogisk Psykologisk Rådgivning", "Sundhedsplejen"}, [2]string{"17.00.00", "Undervisning og uddannelse"}},
		{"Social og Sundhed", []string{"Hjemmeplejen %s", "Sygeplejen %s", "Træning og Rehabilitering", "Socialpsykiatrien"}, [2]string{"27.00.00", "Social service"}},
		{"Økonomi og Personale", []string{"Løn", "Budget og Analyse", "IT og Digitalisering", "HR", "Indkøb"}, [2]string{"00.01.00", "Kommunens styrelse"}},
		{"Kultur og Fritid", []string{"%s Bibliotek", "Musikskolen", "%s Idrætscenter", "Kulturhuset %s"}, [2]string{"18.00.00", "Kultur"}},
		{"Borgerservice", []string{"Borgerservice %s", "Ydelsesservice", "Opkrævning"}, [2]string{"25.00.00", "Sociale ydelser"}},
		{"Beskæftigelse", []string{"Jobcenter %s", "Ungeindsatsen", "Virksomhedsservice"}, [2]string{"15.00.00", "Arbejdsmarkedsforhold"}},
		{"Ældre og Handicap", []string{"Plejecenter %s", "Aktivitetscenter %s", "Visitationen", "Hjælpemidler"}, [2]string{"27.00.00", "Social service"}},
	}
}

// vocabulary holds the word lists the generator draws from.
type vocabulary struct {
	municipalities         []struct{ name, postcode string }
	places, streets, teams []string
}

func newVocabulary() vocabulary {
	return vocabulary{
		municipalities: []struct{ name, postcode string }{
			{"Kolding", "6000"}, {"Silkeborg", "8600"}, {"Viborg", "8800"}, {"Horsens", "8700"}, {"Vejle", "7100"},
			{"Herning", "7400"}, {"Holstebro", "7500"}, {"Svendborg", "5700"}, {"Næstved", "4700"}, {"Hjørring", "9800"},
		},
		places:  []string{"Vamdrup", "Lunderskov", "Christiansfeld", "Bramdrup", "Seest", "Vonsild", "Harte", "Alminde", "Viuf", "Hejls", "Ødis", "Eltang", "Sønderbjert", "Dalby", "Skanderup", "Strandhuse"},
		streets: []string{"Stejlbjergvej", "Akseltorv", "Nytorv", "Skolegade", "Jernbanegade", "Kirkevej", "Vestergade", "Østergade", "Rådhuspladsen", "Havnegade"},
		teams:   []string{"Team Nord", "Team Syd", "Team Øst", "Team Vest", "Team Midt", "Dagteam", "Aftenteam", "Natteam"},
	}
}

// Generate returns a plausible Danish municipality with units organisation units (at least 1):
// a top unit "<Name> Kommune", departments such as "Teknik og Miljø" and "Børn og Unge", their
// subunits (schools, care centres, job centres, …) and teams below those. Units carry unit
// types, levels, the hierarchy "Linjeorganisation", e-mail and phone addresses (public, some
// secret), EAN and P-numbers, postal (DAR) addresses, managers (person UUIDs; persons come
// later) and KLE mark-up. The result depends only on seed and units.
func Generate(seed int64, units int) Dataset {
	units = max(units, 1)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6f73326d6f))
	g := &generator{rng: rng, vocabulary: newVocabulary(), names: map[string]int{}}
	mun := g.municipalities[rng.IntN(len(g.municipalities))]
	g.mun, g.postcode = mun.name, mun.postcode
	g.domain = slug(mun.name) + ".dk"
	g.from = time.Date(2010, 1, 1, 0, 0, 0, 0, copenhagen())

	top := g.unit(mun.name+" Kommune", nil, "Afdeling", "N1", 0)
	g.addPostal(&top)
	g.addEAN(&top)
	g.out = append(g.out, top)

	deps := departments()
	nd := min(len(deps), units-1)
	depIdx := make([]int, 0, nd) // index in g.out
	for i := range nd {
		u := g.unit(deps[i].name, &top, "Afdeling", "N2", 1)
		g.addPostal(&u)
		g.addEAN(&u)
		depIdx = append(depIdx, len(g.out))
		g.out = append(g.out, u)
	}
	var subIdx []int // subunits that may get teams
	for n := 1 + nd; n < units; n++ {
		if len(subIdx) > 0 && rng.IntN(4) == 0 {
			parent := g.out[subIdx[rng.IntN(len(subIdx))]]
			u := g.unit(g.uniqueName(parent.UUID, g.teams[rng.IntN(len(g.teams))]), &parent, "Team", "N4", 3)
			g.out = append(g.out, u)
			continue
		}
		d := rng.IntN(nd)
		parent := g.out[depIdx[d]]
		tmpl := deps[d].subunits[rng.IntN(len(deps[d].subunits))]
		name := tmpl
		if strings.Contains(tmpl, "%s") {
			name = fmt.Sprintf(tmpl, g.places[rng.IntN(len(g.places))])
		}
		kind := "Center"
		if strings.Contains(tmpl, "%s") {
			kind = "Institution"
		}
		u := g.unit(g.uniqueName(parent.UUID, name), &parent, kind, "N3", 2)
		if kind == "Institution" {
			g.addPostal(&u)
			g.addPNumber(&u)
			if rng.IntN(2) == 0 {
				g.addEAN(&u)
			}
		}
		if rng.IntN(3) == 0 {
			aspect := []string{"Udførende", "Ansvarlig", "Indsigt"}[rng.IntN(3)]
			u.KLE = append(u.KLE, moclient.KLE{
				UUID:     g.uuid(),
				Numbers:  []moclient.Class{genClass(deps[d].kle[0], deps[d].kle[1], "")},
				Aspects:  []moclient.Class{genClass("KLE-aspekt-"+aspect, aspect, "")},
				Validity: u.Validity,
			})
		}
		subIdx = append(subIdx, len(g.out))
		g.out = append(g.out, u)
	}
	return Dataset{Municipality: mun.name, Units: g.out}
}

type generator struct {
	vocabulary
	rng      *rand.Rand
	mun      string
	postcode string
	domain   string
	from     time.Time
	out      []moclient.OrgUnit
	names    map[string]int
}

func (g *generator) uuid() uuid.UUID {
	var u uuid.UUID
	a, b := g.rng.Uint64(), g.rng.Uint64()
	for i := range 8 {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

func (g *generator) uniqueName(parent uuid.UUID, name string) string {
	key := parent.String() + "/" + name
	g.names[key]++
	if n := g.names[key]; n > 1 {
		return fmt.Sprintf("%s %d", name, n)
	}
	return name
}

func (g *generator) unit(name string, parent *moclient.OrgUnit, kind, level string, depth int) moclient.OrgUnit {
	unitType := genClass(kind, kind, "")
	lvl := genClass(level, level, "")
	hier := genClass("linjeorg", "Linjeorganisation", "")
	from := g.from.AddDate(0, 0, depth*30+g.rng.IntN(365))
	u := moclient.OrgUnit{
		UUID: g.uuid(), Name: name, UserKey: strings.ToUpper(slug(name)),
		UnitType: &unitType, Level: &lvl, Hierarchy: &hier,
		Validity: moclient.Validity{From: from},
	}
	if parent != nil {
		p := parent.UUID
		u.Parent = &p
		if from.Before(parent.Validity.From) {
			u.Validity.From = parent.Validity.From
		}
	}
	public := genClass("Ekstern", "Må vises eksternt", "PUBLIC")
	secret := genClass("Hemmelig", "Hemmelig", "SECRET")
	email := fmt.Sprintf("%s@%s", slug(name), g.domain)
	g.addAddress(&u, genClass("EmailUnit", "Email", "EMAIL"), &public, email, email)
	phone := g.digits("7", 8)
	g.addAddress(&u, genClass("PhoneUnit", "Telefon", "PHONE"), &public, phone, phone)
	if g.rng.IntN(3) == 0 {
		direct := g.digits("2", 8)
		g.addAddress(&u, genClass("PhoneUnit", "Telefon", "PHONE"), &secret, direct, direct)
	}
	if depth <= 2 || g.rng.IntN(2) == 0 {
		u.Managers = append(u.Managers, moclient.Manager{UUID: g.uuid(), Person: ptr(g.uuid()), Validity: u.Validity})
	} else if g.rng.IntN(4) == 0 {
		u.Managers = append(u.Managers, moclient.Manager{UUID: g.uuid(), Validity: u.Validity}) // vacant
	}
	return u
}

func (g *generator) addAddress(u *moclient.OrgUnit, typ moclient.Class, vis *moclient.Class, value, name string) {
	var v *moclient.Class
	if vis != nil {
		c := *vis
		v = &c
	}
	u.Addresses = append(u.Addresses, moclient.Address{UUID: g.uuid(), Type: typ, Visibility: v, Value: value, Name: name, Validity: u.Validity})
}

func (g *generator) addEAN(u *moclient.OrgUnit) {
	ean := g.digits("5798", 12)
	ean += string(rune('0' + gs1Check(ean)))
	g.addAddress(u, genClass("EAN", "EAN-nummer", "EAN"), nil, ean, ean)
}

func (g *generator) addPNumber(u *moclient.OrgUnit) {
	p := g.digits("10", 10)
	g.addAddress(u, genClass("p-nummer", "P-nummer", "PNUMBER"), nil, p, p)
}

func (g *generator) addPostal(u *moclient.OrgUnit) {
	name := fmt.Sprintf("%s %d, %s %s", g.streets[g.rng.IntN(len(g.streets))], 1+g.rng.IntN(120), g.postcode, g.mun)
	public := genClass("Ekstern", "Må vises eksternt", "PUBLIC")
	g.addAddress(u, genClass("AddressMailUnit", "Postadresse", "DAR"), &public, g.uuid().String(), name)
}

// digits returns prefix followed by random digits up to n digits in total.
func (g *generator) digits(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < n {
		b.WriteByte(byte('0' + g.rng.IntN(10)))
	}
	return b.String()
}

// gs1Check is the GS1 (EAN-13) check digit of 12 digits.
func gs1Check(s string) int {
	sum := 0
	for i, r := range s {
		d := int(r - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// slug lower-cases s, transliterates æ/ø/å and joins words with dots: "Børn og Unge" → "boern.og.unge".
func slug(s string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "oe", "å", "aa", "Æ", "ae", "Ø", "oe", "Å", "aa").Replace(s)
	words := strings.FieldsFunc(strings.ToLower(r), func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) })
	return strings.Join(words, ".")
}

func ptr[T any](v T) *T { return &v }

func copenhagen() *time.Location {
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		panic(fmt.Sprintf("motest: loading Europe/Copenhagen: %v", err)) // tzdata is embedded by moclient
	}
	return loc
}
