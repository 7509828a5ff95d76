package bus

// Locality. An executor started with a zone serves its lanes on
// ZoneExecSubject(zone, lane) as well as on ExecSubject(lane), in the same
// queue group. An edge with a zone sends to its zone's subject first; when
// no executor of the zone listens (no responders, answered at once by the
// server) it sends to the common subject, which every executor serves. So
// a request stays in its zone while the zone has executors and leaves it
// only when it has none.

// ZoneExecSubject returns "avap.exec.v1.zone.<zone>.<lane>".
func ZoneExecSubject(zone string, lane Lane) (string, error) {
	if err := ValidToken(zone); err != nil {
		return "", err
	}
	base, err := ExecSubject(lane)
	if err != nil {
		return "", err
	}
	return ExecPrefix + "." + ZoneToken + "." + zone + base[len(ExecPrefix):], nil
}

// ExecNodeSubject returns "avap.exec.v1.node.<executorID>.<lane>", the
// subject only the executor with that id serves (plain subscription, no
// shared queue group). Edges use it for session affinity: a session's
// requests go to the executor that served it before and, when that executor
// is gone (no responders), to the zone or common subject.
func ExecNodeSubject(executorID string, lane Lane) (string, error) {
	if err := ValidToken(executorID); err != nil {
		return "", err
	}
	base, err := ExecSubject(lane)
	if err != nil {
		return "", err
	}
	return ExecPrefix + "." + NodeToken + "." + executorID + base[len(ExecPrefix):], nil
}
