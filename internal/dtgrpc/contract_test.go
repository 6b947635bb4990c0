package dtgrpc_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
)

const contractFile = "testdata/wire-contract.txt"

var contractFrom = flag.String("contract-from", "",
	"rewrite "+contractFile+" from this FileDescriptorSet, compiled with protoc --include_imports "+
		"from upstream's protos/orchestrator_service.proto at the pinned commit")

// TestWireContract checks orca's .proto against the upstream revision it follows:
// testdata/wire-contract.txt lists, one a line, every message, field (name, number, label, type,
// oneof), enum value, reserved range and RPC of upstream's orchestrator_service.proto at the
// pinned commit, and the descriptor compiled into dtpb must list exactly the same. Comments and
// order are free; a renamed, renumbered or retyped field fails here.
//
// To follow a newer upstream revision: compile it (protoc -I DIR -I /usr/include --include_imports
// --descriptor_set_out=up.pb DIR/orchestrator_service.proto), run
// `go test ./internal/dtgrpc -run TestWireContract -contract-from=up.pb`, review the diff of the
// contract file, then change the .proto until this test passes again.
func TestWireContract(t *testing.T) {
	got := contractLines(dtpb.File_orchestrator_service_proto)
	if *contractFrom != "" {
		writeContract(t, *contractFrom)
	}
	b, err := os.ReadFile(contractFile)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	if len(want) < 500 {
		t.Fatalf("%s has %d lines: not a contract", contractFile, len(want))
	}
	missing, extra := difference(want, got), difference(got, want)
	for _, l := range missing {
		t.Errorf("upstream has, orca's .proto lacks: %s", l)
	}
	for _, l := range extra {
		t.Errorf("orca's .proto has, upstream lacks: %s", l)
	}
}

func writeContract(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := files.FindFileByPath("orchestrator_service.proto")
	if err != nil {
		t.Fatal(err)
	}
	head := "# The wire contract of the Durable Task sidecar protocol: upstream's\n" +
		"# protos/orchestrator_service.proto, listed by TestWireContract (contract_test.go says how).\n"
	if err := os.WriteFile(contractFile, []byte(head+strings.Join(contractLines(fd), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// contractLines lists what of fd is wire contract, sorted.
func contractLines(fd protoreflect.FileDescriptor) []string {
	lines := []string{
		fmt.Sprintf("file syntax=%s package=%q", fd.Syntax(), fd.Package()),
	}
	var messages func(ms protoreflect.MessageDescriptors)
	messages = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			lines = append(lines, fmt.Sprintf("message %s map_entry=%v", m.FullName(), m.IsMapEntry()))
			for j := 0; j < m.Fields().Len(); j++ {
				f := m.Fields().Get(j)
				typ := f.Kind().String()
				switch f.Kind() {
				case protoreflect.MessageKind, protoreflect.GroupKind:
					typ += " " + string(f.Message().FullName())
				case protoreflect.EnumKind:
					typ += " " + string(f.Enum().FullName())
				}
				oneof := ""
				if o := f.ContainingOneof(); o != nil {
					oneof = fmt.Sprintf(" oneof=%s synthetic=%v", o.Name(), o.IsSynthetic())
				}
				lines = append(lines, fmt.Sprintf("field %s = %d %s %s json=%s packed=%v%s",
					f.FullName(), f.Number(), f.Cardinality(), typ, f.JSONName(), f.IsPacked(), oneof))
			}
			rr := m.ReservedRanges()
			for j := 0; j < rr.Len(); j++ {
				lines = append(lines, fmt.Sprintf("reserved %s %d-%d", m.FullName(), rr.Get(j)[0], rr.Get(j)[1]-1))
			}
			rn := m.ReservedNames()
			for j := 0; j < rn.Len(); j++ {
				lines = append(lines, fmt.Sprintf("reserved %s %q", m.FullName(), rn.Get(j)))
			}
			enums(m.Enums(), &lines)
			messages(m.Messages())
		}
	}
	messages(fd.Messages())
	enums(fd.Enums(), &lines)
	for i := 0; i < fd.Services().Len(); i++ {
		s := fd.Services().Get(i)
		lines = append(lines, fmt.Sprintf("service %s", s.FullName()))
		for j := 0; j < s.Methods().Len(); j++ {
			m := s.Methods().Get(j)
			lines = append(lines, fmt.Sprintf("rpc %s (%s%s) returns (%s%s)", m.FullName(),
				stream(m.IsStreamingClient()), m.Input().FullName(), stream(m.IsStreamingServer()), m.Output().FullName()))
		}
	}
	sort.Strings(lines)
	return lines
}

func enums(es protoreflect.EnumDescriptors, lines *[]string) {
	for i := 0; i < es.Len(); i++ {
		e := es.Get(i)
		*lines = append(*lines, fmt.Sprintf("enum %s", e.FullName()))
		for j := 0; j < e.Values().Len(); j++ {
			v := e.Values().Get(j)
			*lines = append(*lines, fmt.Sprintf("value %s.%s = %d", e.FullName(), v.Name(), v.Number()))
		}
	}
}

func stream(b bool) string {
	if b {
		return "stream "
	}
	return ""
}

// difference returns the lines of a that b lacks.
func difference(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, l := range b {
		in[l] = true
	}
	var out []string
	for _, l := range a {
		if !in[l] {
			out = append(out, l)
		}
	}
	return out
}
