package bus

import (
	"fmt"
	"strings"
)

// Subjects and names of the mesh. Every subject the project publishes or
// subscribes to is built from these prefixes by the constructors below;
// no other package concatenates subjects.
const (
	// ExecPrefix is the prefix of the execution subjects, one per lane:
	// "avap.exec.v1.<lane>".
	ExecPrefix = "avap.exec.v1"
	// CompileSubject carries compile-and-store requests for named scripts.
	CompileSubject = "avap.compile.v1"
	// ExecutorService is the nats.go micro service name of executors; it is
	// also their queue group, so discovery uses "$SRV.INFO.avap-executor".
	ExecutorService = "avap-executor"
	// ExecutorQueue is the queue group every executor endpoint joins.
	ExecutorQueue = "avap-executor"
	// CommandsBucket is the JetStream KV bucket holding named scripts.
	CommandsBucket = "avap_commands"
	// RegistryService is the nats.go micro service name of the command
	// registry; its endpoints are "avap.registry.v1.<op>".
	RegistryService = "avap-registry"
	// RegistryPrefix is the subject prefix of the registry endpoints.
	RegistryPrefix = "avap.registry.v1"
	// RegistryBucket is the JetStream KV bucket of the registry (L2 cache):
	// "idx.<name>" catalogue entries and "pkg.<hash>" signed packages.
	RegistryBucket = "avap_registry"
	// ServiceAPIPrefix is the micro discovery prefix ($SRV).
	ServiceAPIPrefix = "$SRV"
	// MeshPrefix is the prefix of node heartbeats (mesh.go):
	// "avap.mesh.v1.hb.<role>.<id>", and of "avap.mesh.v1.ping", which
	// makes every node answer with its heartbeat at once.
	MeshPrefix = "avap.mesh.v1"
	// ZoneToken is the token of zone-local execution subjects (locality.go):
	// "avap.exec.v1.zone.<zone>.<lane>".
	ZoneToken = "zone"
	// NodeToken is the token of executor-specific execution subjects
	// (locality.go): "avap.exec.v1.node.<executor id>.<lane>".
	NodeToken = "node"
	// ProjectDeploySubject carries project deployments (project.go).
	ProjectDeploySubject = "avap.project.v1.deploy"
	// ProjectsBucket is the JetStream KV bucket of deployed projects, one
	// key per project holding a Project as JSON; edges watch it.
	ProjectsBucket = "avap_projects"
)

// Lane selects a bulkhead of executors: interactive requests and batch
// items are served by separate worker pools so one cannot starve the other.
type Lane string

// Lanes.
const (
	LaneInteractive Lane = "interactive" // single requests from HTTP clients
	LaneBatch       Lane = "batch"       // items of /api/v1/execute/batch
)

// Lanes lists every lane in a fixed order.
func Lanes() []Lane { return []Lane{LaneInteractive, LaneBatch} }

// Valid reports whether l is a known lane.
func (l Lane) Valid() bool { return l == LaneInteractive || l == LaneBatch }

// ExecSubject returns "avap.exec.v1.<lane>".
func ExecSubject(lane Lane) (string, error) {
	if !lane.Valid() {
		return "", fmt.Errorf("%w: lane %q", ErrInvalidToken, string(lane))
	}
	// Both lanes are constants; avoid an allocation per request.
	if lane == LaneInteractive {
		return ExecPrefix + ".interactive", nil
	}
	return ExecPrefix + ".batch", nil
}

// DiscoverySubject returns the micro discovery subject of verb ("PING",
// "INFO" or "STATS") for service, e.g. "$SRV.INFO.avap-executor". An
// empty service addresses every micro service.
func DiscoverySubject(verb, service string) (string, error) {
	switch verb {
	case "PING", "INFO", "STATS":
	default:
		return "", fmt.Errorf("%w: verb %q", ErrInvalidToken, verb)
	}
	if service == "" {
		return ServiceAPIPrefix + "." + verb, nil
	}
	if err := ValidToken(service); err != nil {
		return "", err
	}
	return ServiceAPIPrefix + "." + verb + "." + service, nil
}

// ValidToken reports whether tok can be one token of a subject: not empty,
// no '.', no wildcard and no whitespace or control character.
func ValidToken(tok string) error {
	if tok == "" {
		return fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if strings.ContainsAny(tok, ".*> \t\r\n") {
		return fmt.Errorf("%w: %q", ErrInvalidToken, tok)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < 0x20 || tok[i] == 0x7f {
			return fmt.Errorf("%w: %q", ErrInvalidToken, tok)
		}
	}
	return nil
}

// RegistrySubject returns "avap.registry.v1.<op>" for a registry endpoint.
func RegistrySubject(op string) (string, error) {
	if err := ValidToken(op); err != nil {
		return "", err
	}
	return RegistryPrefix + "." + op, nil
}
