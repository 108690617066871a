package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// stage is one stage of a Dockerfile: its FROM line's image and name, and its instructions.
type stage struct {
	from, name   string
	instructions []string // each as written, continuation lines joined
}

// parseDockerfile splits a Dockerfile into its stages. It knows only what the checks need: comments,
// line continuations and FROM <image> [AS <name>].
func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	var pending string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			s := stage{from: fields[1]}
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				s.name = fields[3]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if strings.EqualFold(fields[0], "ARG") {
				continue
			}
			return nil, fmt.Errorf("%q before the first FROM", line)
		}
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, line)
	}
	return stages, sc.Err()
}

// instructionsOf returns the stage's instructions of one kind (e.g. COPY), without the keyword.
func (s stage) instructionsOf(kind string) []string {
	var out []string
	for _, in := range s.instructions {
		if k, rest, _ := strings.Cut(in, " "); strings.EqualFold(k, kind) {
			out = append(out, strings.TrimSpace(rest))
		}
	}
	return out
}

// TestProductionImage: the Dockerfile's default target (its last stage, what `docker build .`
// makes and the manifests run) holds stsorgsync alone, runs it as the entrypoint with `run` as the
// default command (the manifests give args only), as distroless's nonroot user (the manifests'
// runAsUser 65532); the fakes are a target of their own.
func TestProductionImage(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../Dockerfile")
	must(t, err)
	stages, err := parseDockerfile(string(text))
	must(t, err)
	if len(stages) == 0 {
		t.Fatal("no stages")
	}
	prod := stages[len(stages)-1]
	for _, copy := range prod.instructionsOf("COPY") {
		if copy != "--from=build /out/stsorgsync /" {
			t.Errorf("the production image copies %q: it must hold stsorgsync only", copy)
		}
	}
	if got := prod.instructionsOf("ENTRYPOINT"); !slices.Equal(got, []string{`["/stsorgsync"]`}) {
		t.Errorf("production ENTRYPOINT %q, want [\"/stsorgsync\"]", got)
	}
	if got := prod.instructionsOf("CMD"); !slices.Equal(got, []string{`["run"]`}) {
		t.Errorf("production CMD %q, want [\"run\"]", got)
	}
	if !strings.HasSuffix(prod.from, ":nonroot") || !slices.Equal(prod.instructionsOf("USER"), []string{"nonroot:nonroot"}) {
		t.Errorf("production image from %s, USER %q: want distroless's nonroot (uid 65532, the manifests' runAsUser)", prod.from, prod.instructionsOf("USER"))
	}
	i := slices.IndexFunc(stages, func(s stage) bool { return s.name == "fakes" })
	if i < 0 {
		t.Fatal("no stage named fakes (docker-compose.yml builds the fakes with target: fakes)")
	}
	copied := stages[i].instructionsOf("COPY")
	if joined := strings.Join(copied, "\n"); !strings.Contains(joined, "/out/fakemo") || !strings.Contains(joined, "/out/fakests") || strings.Contains(joined, "/out/stsorgsync") {
		t.Errorf("the fakes image copies %q: want fakemo and fakests", copied)
	}

	// The manifests run the image with args only, so its entrypoint is what they rely on.
	m, err := build(filesys.MakeFsOnDisk(), baseDir)
	must(t, err)
	for _, p := range m.pods() {
		if c, err := p.container(); err == nil {
			if uid := firstNonNil(c.SecurityContext.RunAsUser, p.spec.SecurityContext.RunAsUser); uid == nil || *uid != 65532 {
				t.Errorf("%s: runAsUser %s, want 65532 (distroless nonroot)", p.owner, ptrString(uid))
			}
		}
	}
}

// TestComposeImages: docker-compose.yml runs the daemon and the initial sync from the production
// image and the fakes from the fakes target, each binary as the image has it.
func TestComposeImages(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile("../docker-compose.yml")
	must(t, err)
	var compose struct {
		Services map[string]json.RawMessage `json:"services"`
	}
	must(t, yaml.Unmarshal(text, &compose))
	type service struct {
		Image string `json:"image"`
		Build *struct {
			Target string `json:"target"`
		} `json:"build"`
		Entrypoint []string `json:"entrypoint"`
	}
	tests := []struct {
		service, target, entrypoint string
	}{
		{"stsorgsync", "", ""},
		{"initial-sync", "", ""},
		{"fakemo", "fakes", "/fakemo"},
		{"fakests", "fakes", "/fakests"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			raw, ok := compose.Services[tt.service]
			if !ok {
				t.Fatalf("no service %s", tt.service)
			}
			var s service
			must(t, yaml.Unmarshal(raw, &s))
			if s.Build == nil {
				t.Fatalf("service %s is not built from the Dockerfile", tt.service)
			}
			if s.Build.Target != tt.target {
				t.Errorf("target %q, want %q", s.Build.Target, tt.target)
			}
			if tt.entrypoint != "" && !slices.Equal(s.Entrypoint, []string{tt.entrypoint}) {
				t.Errorf("entrypoint %q, want [%s]", s.Entrypoint, tt.entrypoint)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		text    string
		want    []stage
		wantErr bool
	}{
		{
			name: "stages, names, continuations",
			text: "ARG X=1\nFROM golang AS build\nRUN a \\\n    b\n# c\nFROM scratch\nCOPY --from=build /x /\n",
			want: []stage{{from: "golang", name: "build", instructions: []string{"RUN a  b"}}, {from: "scratch", instructions: []string{"COPY --from=build /x /"}}},
		},
		{name: "instruction before FROM", text: "RUN x\nFROM scratch\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseDockerfile(tt.text)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
