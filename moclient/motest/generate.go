package motest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
)

// Dataset is a generated organisation, ready for [Server.Load]. Units are ordered parents first.
type Dataset struct {
	// Municipality is the municipality's name, e.g. "Kolding"; the top unit is "<Name> Kommune".
	Municipality string
	// Units are the organisation units, the top unit first, then by depth.
	Units []model.OrgUnit
	// Persons are the persons with their engagements, IT users and addresses.
	Persons []model.Person
	// Associations are MED committee seats of some persons.
	Associations []Association
	// Leaves are leaves of some persons.
	Leaves []Leave
}

// GenOptions configures [GenerateOrg].
type GenOptions struct {
	// Seed selects the organisation; the same options give the same data.
	Seed int64
	// Units is the number of organisation units (at least 1).
	Units int
	// Persons is the number of persons (0: none; managers are then vacant).
	Persons int
	// Today is the reference date for current, past and future validities (default 2026-01-01,
	// Europe/Copenhagen). Pass the server's "now" so future engagements are in its future.
	Today time.Time
	// UnitAccounts gives units the IT accounts municipalities keep for FK Organisation (the rest
	// of the data stays as without it): an FK-ORG-UUID account on each MED committee (units
	// outside the line organisation exported for that account), and on a third of
	// the areas and every self-governing institution an account in the IT system "OS2sync" whose
	// user key is the UUID FK Organisation holds the unit under (see UnitAccountSystem).
	UnitAccounts bool
}

// UnitAccountSystem is the IT system of the units' accounts that hold their UUIDs in FK
// Organisation (GenOptions.UnitAccounts): user key "OS2sync", name "OS2sync UUID".
func UnitAccountSystem() model.Class { return genClass("itsystem", "OS2sync", "OS2sync UUID", "") }

// Generate returns GenerateOrg(GenOptions{Seed: seed, Units: units}): units only.
func Generate(seed int64, units int) Dataset {
	return GenerateOrg(GenOptions{Seed: seed, Units: units})
}

// GenerateOrg returns a plausible Danish municipality:
//
//   - a line organisation ("Linjeorganisation") of 5–7 levels below "<Name> Kommune" (departments
//     such as "Teknik og Miljø", areas, institutions, sections, teams, groups), a few
//     self-governing institutions ("Selvejende institution") and, from 40 units, a second
//     hierarchy: a MED organisation ("MED-organisation") of committees below the top unit;
//   - unit addresses: e-mail, phone (some secret), DAR postal and contact addresses, EAN and
//     P-numbers, web sites and opening hours; KLE mark-up on some units; managers drawn from the
//     unit's own staff, some roles vacant;
//   - persons with Danish names and synthetic CPR numbers, one to three engagements (some
//     future, some ended, some with an earlier start than their current validity), job functions
//     per department, AD job titles in extension_1/extension_3, AD accounts for most (with
//     objectGUID, e-mail address linked to the account), FK bookkeeping accounts for some,
//     mobile/landline/home addresses with PUBLIC, INTERNAL or SECRET visibility, MED seats
//     (associations) and leaves.
//
// Class and IT-system UUIDs depend only on their user keys, so they are the same for every seed.
func GenerateOrg(o GenOptions) Dataset {
	o.Units = max(o.Units, 1)
	o.Persons = max(o.Persons, 0)
	loc := copenhagen()
	if o.Today.IsZero() {
		o.Today = time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	}
	t := o.Today.In(loc)
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x6f73326d6f))
	g := &generator{rng: rng, vocabulary: newVocabulary(), cls: newClassSet(), names: map[string]int{}, accounts: map[string]int{},
		today: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc), loc: loc}
	mun := g.municipalities[rng.IntN(len(g.municipalities))]
	g.mun, g.postcode, g.domain = mun.name, mun.postcode, slug(mun.name)+".dk"
	g.units(o.Units)
	g.persons(o.Persons)
	g.managers()
	if o.UnitAccounts {
		// A stream of its own, so that the rest of the data is the same as without.
		g.rng = rand.New(rand.NewPCG(uint64(o.Seed), 0x756e6974616363))
		g.unitAccounts()
	}
	return Dataset{Municipality: g.mun, Units: g.out, Persons: g.people, Associations: g.assocs, Leaves: g.leaves}
}

// Class UUIDs are derived from facet and user key.
func genClass(facet, userKey, name, scope string) model.Class {
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:stsorgsync:fakemo:class:"+facet+":"+userKey))
	return model.Class{UUID: id, UserKey: userKey, Name: name, Scope: scope}
}

// classSet holds the classes and IT systems the generator uses.
type classSet struct {
	visPublic, visInternal, visSecret                                       model.Class
	unitEmail, unitPhone, unitPost, unitContact, unitEAN, unitPNumber       model.Class
	unitWeb, unitOpenHour                                                   model.Class
	personEmail, personMobile, personPhone, personHome                      model.Class
	hierLine, hierSelf, hierMED, engEmployed, engHourly, assocMED, leaveMat model.Class
	itAD, itFK                                                              model.Class // IT systems
}

func newClassSet() classSet {
	return classSet{
		visPublic:    genClass("visibility", "Ekstern", "Må vises eksternt", "PUBLIC"),
		visInternal:  genClass("visibility", "Intern", "Må vises internt", "INTERNAL"),
		visSecret:    genClass("visibility", "Hemmelig", "Hemmelig", "SECRET"),
		unitEmail:    genClass("org_unit_address_type", "EmailUnit", "Email", "EMAIL"),
		unitPhone:    genClass("org_unit_address_type", "PhoneUnit", "Telefon", "PHONE"),
		unitPost:     genClass("org_unit_address_type", "AddressMailUnit", "Postadresse", "DAR"),
		unitContact:  genClass("org_unit_address_type", "Contact", "Henvendelsessted", "DAR"),
		unitEAN:      genClass("org_unit_address_type", "EAN", "EAN-nummer", "EAN"),
		unitPNumber:  genClass("org_unit_address_type", "p-nummer", "P-nummer", "PNUMBER"),
		unitWeb:      genClass("org_unit_address_type", "WebUnit", "Hjemmeside", "WWW"),
		unitOpenHour: genClass("org_unit_address_type", "ContactOpenHours", "Åbningstid", "TEXT"),
		personEmail:  genClass("employee_address_type", "EmailEmployee", "Email", "EMAIL"),
		personMobile: genClass("employee_address_type", "MobilePhoneEmployee", "Mobiltelefon", "PHONE"),
		personPhone:  genClass("employee_address_type", "PhoneEmployee", "Telefon", "PHONE"),
		personHome:   genClass("employee_address_type", "AdressePostEmployee", "Hjemmeadresse", "DAR"),
		hierLine:     genClass("org_unit_hierarchy", "linjeorg", "Linjeorganisation", ""),
		hierSelf:     genClass("org_unit_hierarchy", "selvejet", "Selvejende institution", ""),
		hierMED:      genClass("org_unit_hierarchy", "MED", "MED-organisation", ""),
		engEmployed:  genClass("engagement_type", "Ansat", "Ansat", ""),
		engHourly:    genClass("engagement_type", "Timelønnet", "Timelønnet", ""),
		itAD:         genClass("itsystem", "Active Directory", "Active Directory", ""),
		itFK:         genClass("itsystem", "FK-ORG-UUID", "FK-org uuid", ""),
		assocMED:     genClass("association_type", "MED-medlem", "MED-medlem", ""),
		leaveMat:     genClass("leave_type", "Barselsorlov", "Barselsorlov", ""),
	}
}

// unitTypeNames are the unit types per depth below the top (index 0 is the top unit).
func unitTypeNames() []string {
	return []string{"Kommune", "Forvaltning", "Område", "Institution", "Afsnit", "Team", "Gruppe"}
}

func kleAspects() []string { return []string{"Udførende", "Ansvarlig", "Indsigt"} }

type department struct {
	name         string
	areas        []string // depth 2
	institutions []string // depth 3; "%s" is replaced by a place name
	sections     []string // depth 4
	jobs         []string
	kle          [2]string
}

func departments() []department {
	return []department{
		{"Teknik og Miljø", []string{"Vej og Park", "Byg og Plan", "Natur og Miljø", "Forsyning"},
			[]string{"Materielgården %s", "Genbrugsplads %s", "Vejcenter %s"}, []string{"Drift", "Anlæg", "Administration", "Værksted"},
			[]string{"Ingeniør", "Byggesagsbehandler", "Landinspektør", "Vejarbejder", "Gartner", "Miljømedarbejder", "Planlægger"}, [2]string{"02.00.00", "Byggeri"}},
		{"Børn og Unge", []string{"Dagtilbud", "Skoler", "Familie og Forebyggelse", "PPR"},
			[]string{"%s Skole", "%s Børnehus", "Dagplejen %s", "Børnehaven %s", "%s Fritidscenter"}, []string{"Indskoling", "Mellemtrin", "Udskoling", "Vuggestue", "Børnehave", "Administration"},
			[]string{"Lærer", "Pædagog", "Pædagogmedhjælper", "Dagplejer", "Sundhedsplejerske", "Psykolog"}, [2]string{"17.00.00", "Undervisning og uddannelse"}},
		{"Social og Sundhed", []string{"Hjemmepleje", "Sygepleje", "Træning og Rehabilitering", "Socialpsykiatri"},
			[]string{"Hjemmeplejen %s", "Sygeplejen %s", "Botilbud %s", "Sundhedscenter %s"}, []string{"Dag", "Aften", "Nat", "Visitation", "Administration"},
			[]string{"Social- og sundhedshjælper", "Social- og sundhedsassistent", "Sygeplejerske", "Fysioterapeut", "Ergoterapeut", "Socialrådgiver"}, [2]string{"27.00.00", "Social service"}},
		{"Økonomi og Personale", []string{"Økonomi", "HR", "IT og Digitalisering", "Indkøb"},
			[]string{"Lønkontoret %s", "IT-support %s"}, []string{"Løn", "Budget", "Regnskab", "Drift", "Udvikling"},
			[]string{"Økonomikonsulent", "Lønkonsulent", "HR-konsulent", "IT-medarbejder", "Indkøber", "Controller"}, [2]string{"00.01.00", "Kommunens styrelse"}},
		{"Kultur og Fritid", []string{"Biblioteker", "Idræt", "Kultur"},
			[]string{"%s Bibliotek", "%s Idrætscenter", "Kulturhuset %s", "Musikskolen %s"}, []string{"Udlån", "Formidling", "Drift", "Café"},
			[]string{"Bibliotekar", "Musikunderviser", "Kulturmedarbejder", "Idrætskonsulent", "Servicemedarbejder"}, [2]string{"18.00.00", "Kultur"}},
		{"Borgerservice", []string{"Borgerservice", "Ydelser", "Opkrævning"},
			[]string{"Borgerservice %s", "Ydelsescenter %s"}, []string{"Pas og kørekort", "Pension", "Boligstøtte", "Skranke"},
			[]string{"Borgerservicemedarbejder", "Sagsbehandler", "Opkrævningsmedarbejder"}, [2]string{"25.00.00", "Sociale ydelser"}},
		{"Beskæftigelse", []string{"Jobcenter", "Ungeindsatsen", "Virksomhedsservice"},
			[]string{"Jobcenter %s", "Ungecenter %s"}, []string{"Ledige", "Sygedagpenge", "Integration", "Virksomhedsteam"},
			[]string{"Jobkonsulent", "Sagsbehandler", "Virksomhedskonsulent", "Mentor"}, [2]string{"15.00.00", "Arbejdsmarkedsforhold"}},
		{"Ældre og Handicap", []string{"Plejecentre", "Aktivitet", "Hjælpemidler"},
			[]string{"Plejecenter %s", "Aktivitetscenter %s", "Bofællesskabet %s"}, []string{"Afdeling A", "Afdeling B", "Køkken", "Aktivitet"},
			[]string{"Social- og sundhedshjælper", "Visitator", "Hjælpemiddelkonsulent", "Aktivitetsmedarbejder", "Sygeplejerske"}, [2]string{"27.00.00", "Social service"}},
	}
}

// vocabulary holds the word lists the generator draws from.
type vocabulary struct {
	municipalities                  []struct{ name, postcode string }
	places, streets, teams, groups  []string
	female, male, middle, surnames  []string
	nicknames                       map[string]string
	leaderJobs, generalJobs, titles []string
}

func newVocabulary() vocabulary {
	return vocabulary{
		municipalities: []struct{ name, postcode string }{
			{"Kolding", "6000"}, {"Silkeborg", "8600"}, {"Viborg", "8800"}, {"Horsens", "8700"}, {"Vejle", "7100"},
			{"Herning", "7400"}, {"Holstebro", "7500"}, {"Svendborg", "5700"}, {"Næstved", "4700"}, {"Hjørring", "9800"},
		},
		places: []string{"Vamdrup", "Lunderskov", "Christiansfeld", "Bramdrup", "Seest", "Vonsild", "Harte", "Alminde", "Viuf",
			"Hejls", "Ødis", "Eltang", "Sønderbjert", "Dalby", "Skanderup", "Strandhuse", "Nørremarken", "Munkebo", "Brændkjær", "Sdr. Bjert"},
		streets: []string{"Stejlbjergvej", "Akseltorv", "Nytorv", "Skolegade", "Jernbanegade", "Kirkevej", "Vestergade", "Østergade",
			"Rådhuspladsen", "Havnegade", "Møllevej", "Skovvangen", "Byagervej", "Lindevej", "Birkealle", "Egevej"},
		teams:  []string{"Team Nord", "Team Syd", "Team Øst", "Team Vest", "Team Midt", "Dagteam", "Aftenteam", "Natteam"},
		groups: []string{"Gruppe 1", "Gruppe 2", "Gruppe 3", "Vagtgruppe A", "Vagtgruppe B"},
		female: []string{"Anne", "Kirsten", "Mette", "Hanne", "Anna", "Helle", "Susanne", "Lene", "Maria", "Marianne", "Lone",
			"Camilla", "Pia", "Louise", "Charlotte", "Bente", "Tina", "Gitte", "Inge", "Karen", "Ida", "Emma", "Sofie", "Julie",
			"Laura", "Freja", "Signe", "Line", "Maja", "Birgitte", "Rikke", "Dorthe", "Jette", "Nanna", "Cecilie", "Sara", "Katrine", "Astrid"},
		male: []string{"Peter", "Jens", "Michael", "Lars", "Henrik", "Thomas", "Søren", "Jan", "Niels", "Christian", "Martin",
			"Anders", "Morten", "Jesper", "Mads", "Rasmus", "Per", "Hans", "Jørgen", "Ole", "Kim", "Mikkel", "Frederik", "Jakob",
			"Kasper", "Simon", "Mathias", "Emil", "Lucas", "William", "Oliver", "Magnus", "Torben", "Bo", "Steen", "Poul", "Erik", "Claus"},
		middle: []string{"Marie", "Louise", "Kristine", "Holm", "Juul", "Bach", "Skov", "Lykke", "Dahl", "Bruun", "Kjær", "Lund"},
		surnames: []string{"Nielsen", "Jensen", "Hansen", "Andersen", "Pedersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
			"Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Christiansen", "Poulsen", "Johansen", "Møller",
			"Mortensen", "Knudsen", "Jakobsen", "Mikkelsen", "Olesen", "Frederiksen", "Laursen", "Henriksen", "Lund", "Schmidt",
			"Eriksen", "Holm", "Kristiansen", "Clausen", "Simonsen", "Svendsen", "Andreasen", "Iversen", "Jeppesen", "Mogensen",
			"Vestergaard", "Nissen", "Lauridsen", "Kjær", "Dam", "Bak", "Østergaard", "Holst"},
		nicknames: map[string]string{"Christian": "Chris", "Frederik": "Frede", "Katrine": "Trine", "Charlotte": "Lotte",
			"Marianne": "Janne", "Birgitte": "Gitte", "Mathias": "Mads", "Kristian": "Kris", "Susanne": "Sanne", "Jørgen": "Jørn"},
		leaderJobs:  []string{"Leder", "Afdelingsleder", "Souschef"},
		generalJobs: []string{"Administrativ medarbejder", "Elev", "Studentermedhjælper"},
		titles:      []string{"Specialist", "Koordinator", "Konsulent", "Teamkoordinator", "Faglig leder"},
	}
}

// genUnit is a unit being generated with what person generation needs.
type genUnit struct {
	idx   int // index in generator.out
	depth int
	dept  int // department index, -1 for the top and MED units
	med   bool
}

type generator struct {
	vocabulary
	cls              classSet
	rng              *rand.Rand
	loc              *time.Location
	today            time.Time
	mun, postcode    string
	domain           string
	out              []model.OrgUnit
	meta             []genUnit
	names            map[string]int
	accounts         map[string]int
	people           []model.Person
	assocs           []Association
	leaves           []Leave
	staff            map[int][]int // unit index → indexes of persons with a current engagement there
	employeeNo       int
	cumsum           []float64
	weightedUnitIdxs []int
	byID             map[uuid.UUID]int
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

func (g *generator) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) days(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }

// units builds n units: top, line organisation by depth, then the MED organisation.
func (g *generator) units(n int) {
	deps := departments()
	top := &g.out[g.unit(g.mun+" Kommune", -1, 0, g.cls.hierLine, -1)]
	g.addPostal(top, g.cls.unitPost)
	g.addEAN(top)
	g.addAddress(top, g.cls.unitWeb, &g.cls.visPublic, "https://www."+g.domain, "https://www."+g.domain)
	med := 0
	if n >= 40 {
		med = max(3, n*4/100)
	}
	line := n - 1 - med
	counts := depthCounts(line, len(deps))
	byDepth := [][]int{{0}}
	for depth := 1; depth < len(counts)+1; depth++ {
		var level []int
		for i := range counts[depth-1] {
			var parent, dept int
			if depth == 1 {
				parent, dept = 0, i
			} else {
				parent = byDepth[depth-1][g.rng.IntN(len(byDepth[depth-1]))]
				dept = g.meta[parent].dept
			}
			level = append(level, g.lineUnit(deps, parent, dept, depth))
		}
		byDepth = append(byDepth, level)
	}
	if med > 0 {
		root := g.unit("MED-Hovedudvalg", 0, 1, g.cls.hierMED, -1)
		g.meta[root].med = true
		for i := 1; i < med; i++ {
			parent, depth, name := root, 2, "Område-MED "+deps[g.rng.IntN(len(deps))].name
			if i > len(deps) {
				candidates := g.medAt(2)
				if len(candidates) > 0 {
					parent, depth, name = candidates[g.rng.IntN(len(candidates))], 3, "Lokal-MED "+g.pick(g.places)
				}
			}
			u := g.unit(g.uniqueName(g.out[parent].UUID, name), parent, depth, g.cls.hierMED, -1)
			g.meta[u].med = true
		}
	}
}

func (g *generator) medAt(depth int) []int {
	var out []int
	for _, m := range g.meta {
		if m.med && m.depth == depth {
			out = append(out, m.idx)
		}
	}
	return out
}

// depthCounts splits n line units over depths 1…6: the departments first, then areas,
// institutions, sections, teams and groups (5–7 levels with the top for n of a few hundred).
func depthCounts(n, departments int) []int {
	if n <= 0 {
		return nil
	}
	d1 := min(departments, n)
	rest := n - d1
	weights := []float64{0.06, 0.22, 0.32, 0.27, 0.13}
	counts := []int{d1}
	used := 0
	for _, w := range weights {
		c := int(float64(rest) * w)
		counts = append(counts, c)
		used += c
	}
	counts[3] += rest - used // sections take the rounding
	// A depth can only hold units when the one above has some: fill gaps from the deepest level.
	for i := 1; i < len(counts); i++ {
		if counts[i-1] > 0 {
			continue
		}
		for j := len(counts) - 1; j >= i; j-- {
			if counts[j] > 0 {
				counts[j]--
				counts[i-1]++
				break
			}
		}
	}
	for len(counts) > 0 && counts[len(counts)-1] == 0 {
		counts = counts[:len(counts)-1]
	}
	return counts
}

func (g *generator) lineUnit(deps []department, parent, dept, depth int) int {
	d := deps[dept]
	var name string
	switch depth {
	case 1:
		name = d.name
	case 2:
		name = g.pick(d.areas)
	case 3:
		name = g.pick(d.institutions)
		if strings.Contains(name, "%s") {
			name = fmt.Sprintf(name, g.pick(g.places))
		}
	case 4:
		name = g.pick(d.sections)
	case 5:
		name = g.pick(g.teams)
	default:
		name = g.pick(g.groups)
	}
	hier := g.cls.hierLine
	if depth == 3 && dept == 1 && g.chance(0.08) {
		hier = g.cls.hierSelf
	}
	u := g.unit(g.uniqueName(g.out[parent].UUID, name), parent, depth, hier, dept)
	unit := &g.out[u]
	switch depth {
	case 1:
		g.addPostal(unit, g.cls.unitPost)
		g.addEAN(unit)
	case 3:
		g.addPostal(unit, g.cls.unitPost)
		g.addPNumber(unit)
		if g.chance(0.5) {
			g.addEAN(unit)
		}
		if g.chance(0.3) {
			g.addPostal(unit, g.cls.unitContact)
		}
		if g.chance(0.3) {
			url := "https://" + slug(name) + "." + g.domain
			g.addAddress(unit, g.cls.unitWeb, &g.cls.visPublic, url, url)
		}
		if g.chance(0.2) {
			g.addAddress(unit, g.cls.unitOpenHour, &g.cls.visPublic, "Man-fre 8-15", "Man-fre 8-15")
		}
	}
	if (depth == 2 || depth == 3) && g.chance(0.35) {
		aspect := g.pick(kleAspects())
		unit.KLE = append(unit.KLE, model.KLE{
			UUID:     g.uuid(),
			Numbers:  []model.Class{genClass("kle_number", d.kle[0], d.kle[1], "")},
			Aspects:  []model.Class{genClass("kle_aspect", aspect, aspect, "")},
			Validity: unit.Validity,
		})
	}
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

// unit appends a unit below parent (-1: none) and returns its index.
func (g *generator) unit(name string, parent, depth int, hier model.Class, dept int) int {
	typeName := unitTypeNames()[min(depth, len(unitTypeNames())-1)]
	unitType := genClass("org_unit_type", typeName, typeName, "")
	lvl := genClass("org_unit_level", fmt.Sprintf("N%d", depth+1), fmt.Sprintf("Niveau %d", depth+1), "")
	from := time.Date(2010, 1, 1, 0, 0, 0, 0, g.loc).AddDate(0, 0, depth*30+g.rng.IntN(365))
	u := model.OrgUnit{
		UUID: g.uuid(), Name: name, UserKey: strings.ToUpper(slug(name)),
		UnitType: &unitType, Level: &lvl, Hierarchy: ptr(hier),
		Validity: model.Validity{From: from},
	}
	if parent >= 0 {
		p := g.out[parent]
		u.Parent = ptr(p.UUID)
		if from.Before(p.Validity.From) {
			u.Validity.From = p.Validity.From
		}
	}
	email := fmt.Sprintf("%s@%s", slug(name), g.domain)
	g.addAddress(&u, g.cls.unitEmail, &g.cls.visPublic, email, email)
	phone := g.digits("7", 8)
	g.addAddress(&u, g.cls.unitPhone, &g.cls.visPublic, phone, phone)
	if g.chance(0.3) {
		direct := g.digits("2", 8)
		g.addAddress(&u, g.cls.unitPhone, &g.cls.visSecret, direct, direct)
	}
	g.out = append(g.out, u)
	g.meta = append(g.meta, genUnit{idx: len(g.out) - 1, depth: depth, dept: dept})
	return len(g.out) - 1
}

func (g *generator) addAddress(u *model.OrgUnit, typ model.Class, vis *model.Class, value, name string) {
	u.Addresses = append(u.Addresses, model.Address{UUID: g.uuid(), Type: typ, Visibility: clonePtr(vis), Value: value, Name: name, Validity: u.Validity})
}

func (g *generator) addEAN(u *model.OrgUnit) {
	ean := g.digits("5798", 12)
	ean += string(rune('0' + gs1Check(ean)))
	g.addAddress(u, g.cls.unitEAN, nil, ean, ean)
}

func (g *generator) addPNumber(u *model.OrgUnit) {
	p := g.digits("10", 10)
	g.addAddress(u, g.cls.unitPNumber, nil, p, p)
}

// dar returns a DAR-style address: the DAR UUID as value, "Vej 12, 1. tv, 6000 By" as name.
func (g *generator) dar() (string, string) {
	name := fmt.Sprintf("%s %d", g.pick(g.streets), 1+g.rng.IntN(120))
	if g.chance(0.3) {
		name += fmt.Sprintf(", %d. %s", 1+g.rng.IntN(4), []string{"tv", "th", "mf"}[g.rng.IntN(3)])
	}
	return g.uuid().String(), fmt.Sprintf("%s, %s %s", name, g.postcode, g.mun)
}

func (g *generator) addPostal(u *model.OrgUnit, typ model.Class) {
	value, name := g.dar()
	g.addAddress(u, typ, &g.cls.visPublic, value, name)
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

// unitWeight is how likely a unit of that depth employs a given person.
func unitWeight(m genUnit) float64 {
	if m.med {
		return 0
	}
	return []float64{0.2, 0.5, 1, 3, 4, 4, 3}[min(m.depth, 6)]
}

func (g *generator) randomUnit() int {
	if g.cumsum == nil {
		total := 0.0
		for _, m := range g.meta {
			if w := unitWeight(m); w > 0 {
				total += w
				g.cumsum = append(g.cumsum, total)
				g.weightedUnitIdxs = append(g.weightedUnitIdxs, m.idx)
			}
		}
	}
	x := g.rng.Float64() * g.cumsum[len(g.cumsum)-1]
	lo, hi := 0, len(g.cumsum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if g.cumsum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return g.weightedUnitIdxs[lo]
}

// persons builds n persons with engagements, IT users, addresses, associations and leaves.
func (g *generator) persons(n int) {
	g.staff = map[int][]int{}
	deps := departments()
	medUnits := g.medAt(2)
	medUnits = append(medUnits, g.medAt(3)...)
	g.people = make([]model.Person, 0, n)
	for range n {
		g.person(deps, medUnits)
	}
}

func (g *generator) person(deps []department, medUnits []int) {
	female := g.chance(0.55)
	given := g.pick(g.male)
	if female {
		given = g.pick(g.female)
	}
	if g.chance(0.3) {
		given += " " + g.pick(g.middle)
	}
	surname := g.pick(g.surnames)
	if g.chance(0.08) {
		surname = g.pick(g.surnames) + "-" + surname
	}
	p := model.Person{UUID: g.uuid(), GivenName: given, Surname: surname, CPR: g.cpr(female)}
	p.UserKey = p.UUID.String()
	if nick, ok := g.nicknames[strings.Fields(given)[0]]; ok && g.chance(0.3) {
		p.NicknameGivenName, p.NicknameSurname = nick, surname
	}
	idx := len(g.people)
	nEng := 1
	switch x := g.rng.Float64(); {
	case x < 0.04:
		nEng = 3
	case x < 0.18:
		nEng = 2
	}
	first := g.today
	for i := range nEng {
		e := g.engagement(deps, i == 0)
		if e.Start.Before(first) {
			first = e.Start
		}
		if validAt(e.Validity, g.today) {
			g.staff[g.unitIndex(e.OrgUnit)] = append(g.staff[g.unitIndex(e.OrgUnit)], idx)
		}
		p.Engagements = append(p.Engagements, e)
	}
	since := model.Validity{From: first}
	if g.chance(0.92) {
		account := g.account(given, surname)
		ad := model.ITUser{UUID: g.uuid(), UserKey: account, ExternalID: g.uuid().String(), ITSystem: g.cls.itAD,
			Validity: since, Engagements: []uuid.UUID{p.Engagements[0].UUID}}
		p.ITUsers = append(p.ITUsers, ad)
		if g.chance(0.3) {
			p.ITUsers = append(p.ITUsers, model.ITUser{UUID: g.uuid(), UserKey: ad.ExternalID, ExternalID: g.uuid().String(),
				ITSystem: g.cls.itFK, Validity: since})
		}
		if len(p.Engagements) > 1 && g.chance(0.15) { // a second account for the second job
			p.ITUsers = append(p.ITUsers, model.ITUser{UUID: g.uuid(), UserKey: g.account(given, surname), ExternalID: g.uuid().String(),
				ITSystem: g.cls.itAD, Validity: since, Engagements: []uuid.UUID{p.Engagements[1].UUID}})
		}
		mail := account + "@" + g.domain
		p.Addresses = append(p.Addresses, model.Address{UUID: g.uuid(), Type: g.cls.personEmail, Visibility: ptr(g.cls.visPublic),
			Value: mail, Name: mail, Validity: since, ITUser: ptr(ad.UUID)})
	}
	if g.chance(0.6) {
		vis := []model.Class{g.cls.visPublic, g.cls.visPublic, g.cls.visInternal, g.cls.visSecret, g.cls.visSecret}[g.rng.IntN(5)]
		mobile := g.digits([]string{"2", "3", "4", "5", "6"}[g.rng.IntN(5)], 8)
		p.Addresses = append(p.Addresses, model.Address{UUID: g.uuid(), Type: g.cls.personMobile, Visibility: &vis,
			Value: mobile, Name: mobile, Validity: since, Engagement: ptr(p.Engagements[0].UUID)})
	}
	if g.chance(0.3) {
		phone := g.digits("7", 8)
		p.Addresses = append(p.Addresses, model.Address{UUID: g.uuid(), Type: g.cls.personPhone, Visibility: ptr(g.cls.visPublic),
			Value: phone, Name: phone, Validity: since})
	}
	if g.chance(0.2) {
		value, name := g.dar()
		p.Addresses = append(p.Addresses, model.Address{UUID: g.uuid(), Type: g.cls.personHome, Visibility: ptr(g.cls.visSecret),
			Value: value, Name: name, Validity: since})
	}
	if len(medUnits) > 0 && g.chance(0.03) {
		g.assocs = append(g.assocs, Association{UUID: g.uuid(), Person: p.UUID, OrgUnit: g.out[medUnits[g.rng.IntN(len(medUnits))]].UUID,
			Type: g.cls.assocMED, Validity: model.Validity{From: g.days(g.today, -g.rng.IntN(1500))}})
	}
	if g.chance(0.02) {
		from := g.days(g.today, -100+g.rng.IntN(200))
		if from.Before(p.Engagements[0].Start) {
			from = p.Engagements[0].Start
		}
		g.leaves = append(g.leaves, Leave{UUID: g.uuid(), Person: p.UUID, Engagement: ptr(p.Engagements[0].UUID), Type: g.cls.leaveMat,
			Validity: model.Validity{From: from, To: from.AddDate(0, 10, 0)}})
	}
	g.people = append(g.people, p)
}

// unitIndex finds a generated unit's index by UUID (units are few; persons refer to them by UUID).
func (g *generator) unitIndex(id uuid.UUID) int {
	if g.byID == nil {
		g.byID = make(map[uuid.UUID]int, len(g.out))
		for i, u := range g.out {
			g.byID[u.UUID] = i
		}
	}
	return g.byID[id]
}

func (g *generator) engagement(deps []department, primary bool) model.Engagement {
	u := g.randomUnit()
	unit, m := g.out[u], g.meta[u]
	jobs := g.generalJobs
	if m.dept >= 0 && g.chance(0.9) {
		jobs = deps[m.dept].jobs
	}
	job := g.pick(jobs)
	g.employeeNo++
	e := model.Engagement{UUID: g.uuid(), UserKey: fmt.Sprintf("%05d", g.employeeNo), OrgUnit: unit.UUID,
		JobFunction: genClass("engagement_job_function", job, job, ""), EngagementType: g.cls.engEmployed, Primary: primary}
	if g.chance(0.1) {
		e.EngagementType = g.cls.engHourly
	}
	if g.chance(0.4) {
		e.Extensions[0] = g.pick(g.titles) + " (" + strings.ToLower(job) + ")"
	}
	if g.chance(0.1) {
		e.Extensions[2] = job + ", " + g.pick(g.titles)
	}
	span := int(g.today.Sub(unit.Validity.From).Hours()/24) - 1
	start := g.days(unit.Validity.From, g.rng.IntN(max(span, 1)))
	switch x := g.rng.Float64(); {
	case x < 0.02: // starts later
		start = g.days(g.today, 1+g.rng.IntN(60))
	case x < 0.05: // ended
		e.Validity.To = g.days(g.today, -1-g.rng.IntN(300))
		if !e.Validity.To.After(start) {
			e.Validity.To = g.days(start, 30)
		}
	case x < 0.07: // ends later
		e.Validity.To = g.days(g.today, 30+g.rng.IntN(300))
	}
	e.Start, e.Validity.From = start, start
	if g.chance(0.15) && e.Validity.To.IsZero() && start.Before(g.today) { // edited since it started
		span := int(g.today.Sub(start).Hours() / 24)
		e.Validity.From = g.days(start, g.rng.IntN(max(span, 1)))
	}
	return e
}

// account returns a unique AD sAMAccountName in the usual "four letters and a digit" style.
func (g *generator) account(given, surname string) string {
	a, b := []rune(ascii(given)), []rune(ascii(surname))
	base := string(a[:min(2, len(a))]) + string(b[:min(2, len(b))])
	g.accounts[base]++
	if n := g.accounts[base]; n > 1 {
		return fmt.Sprintf("%s%d", base, n-1)
	}
	return base
}

// cpr returns a synthetic CPR number (DDMMYY + 4 digits, last digit even for women). It is not
// anyone's: the day-month-year and serial are random.
func (g *generator) cpr(female bool) string {
	birth := time.Date(1958+g.rng.IntN(48), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, g.loc)
	serial := g.rng.IntN(1000) * 10
	last := g.rng.IntN(5) * 2
	if !female {
		last++
	}
	return fmt.Sprintf("%s%03d%d", birth.Format("020106"), serial/10, last)
}

// managers gives units a manager from their own staff; some roles are vacant.
func (g *generator) managers() {
	for i, m := range g.meta {
		p := []float64{0.98, 0.95, 0.9, 0.8, 0.55, 0.25, 0.1}[min(m.depth, 6)]
		if m.med || !g.chance(p) {
			continue
		}
		u := &g.out[i]
		mgr := model.Manager{UUID: g.uuid(), Validity: u.Validity}
		if staff := g.staff[i]; len(staff) > 0 && g.chance(0.9) {
			pi := staff[g.rng.IntN(len(staff))]
			mgr.Person = ptr(g.people[pi].UUID)
			for _, e := range g.people[pi].Engagements {
				if e.OrgUnit == u.UUID && e.Start.After(mgr.Validity.From) {
					mgr.Validity.From = e.Start
				}
			}
		}
		u.Managers = append(u.Managers, mgr)
	}
}

// unitAccounts gives the MED committees an FK-ORG-UUID account, and a third of
// the areas (at least one) and every self-governing institution an account holding their UUID in
// FK Organisation (GenOptions.UnitAccounts).
func (g *generator) unitAccounts() {
	moved := false
	for i, m := range g.meta {
		u := &g.out[i]
		switch {
		case m.med:
			id := g.uuid()
			u.ITUsers = append(u.ITUsers, model.ITUser{UUID: g.uuid(), UserKey: id.String(), ExternalID: id.String(),
				ITSystem: g.cls.itFK, Validity: u.Validity})
		case !m.med && m.depth == 2 && (g.chance(1.0/3) || !moved), u.Hierarchy != nil && u.Hierarchy.UUID == g.cls.hierSelf.UUID:
			moved = true
			u.ITUsers = append(u.ITUsers, model.ITUser{UUID: g.uuid(), UserKey: g.uuid().String(),
				ITSystem: UnitAccountSystem(), Validity: u.Validity})
		}
	}
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

// ascii lower-cases s and transliterates æ/ø/å, dropping other non-letters.
func ascii(s string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "oe", "å", "aa", "Æ", "ae", "Ø", "oe", "Å", "aa").Replace(strings.ToLower(s))
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' {
			return c
		}
		return -1
	}, r)
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
