package compile

// ParamKind says how the compiler passes one command argument.
type ParamKind uint8

// Parameter kinds (LANGUAGE.md Part B §5.3, Part A #19).
const (
	// Value: a quoted argument is a literal string, a bare identifier is the
	// variable of that name or else its own text, a template is expanded,
	// anything else is evaluated as an expression. An empty slot is None.
	Value ParamKind = iota + 1
	// Source: a variable name (quotes optional) whose value is read; an unset
	// variable arrives as undef so the command can decide.
	Source
	// Target: a variable name (quotes optional) the command's result is
	// stored into. Nothing is pushed for it unless the command runs on the
	// Host, which receives the name as a string.
	Target
	// Update: like Target, but the current value (or undef) is pushed so the
	// command can extend it (variableToList, AddvariableToJSON).
	Update
)

// CommandSpec describes one command known to the compiler.
type CommandSpec struct {
	Name   string
	Params []ParamKind // longest form
	Min    int         // fewest arguments of a valid call (missing ones are empty)
	// Alt is a second, shorter form selected when exactly len(Alt) arguments
	// are given (randomString(length, target)).
	Alt []ParamKind
	// Variadic: extra arguments past Params are Values (go(func, args...)).
	Variadic bool
	Host     bool // runs on Input.Host (leaves the process)
	// Context: `x = cmd(...)` also stores the result into x.
	Context bool
}

// Command numbers (CMD's A). The order is part of the bytecode format.
const (
	CmdAddVar = iota
	CmdAddResult
	CmdAddParam
	CmdGetQueryParamList
	CmdVariableToList
	CmdItemFromList
	CmdGetListLen
	CmdAddvariableToJSON
	CmdVariableFromJSON
	CmdReplace
	CmdGetRegex
	CmdRandomString
	CmdEncodeSHA256
	CmdEncodeMD5
	CmdGetDateTime
	CmdGetTimeStamp
	CmdStampToDatetime
	CmdAddLog
	CmdLog
	CmdRequestGet
	CmdRequestPost
	CmdOrmDirect
	CmdOrmCheckTable
	CmdOrmAccessSelect
	CmdOrmAccessInsert
	CmdOrmAccessUpdate
	CmdAvapConnector
	CmdRegisterEndpoint
	CmdGo
	CmdGather
	CmdAsyncStore // internal: end of a go_async block (id, variables dict)
	CmdGoStore    // internal: result of go(f, args...) → handle
	CmdMethod     // internal: x.name(args...) → Host command ".name" (method.go)
	CmdAsyncMark  // internal: no-op before a go_async block or go() call (was a start time; kept for the format)
	NumCommands
)

const (
	pV = Value
	pS = Source
	pT = Target
	pU = Update
)

// commands is indexed by command number.
var commands = [NumCommands]CommandSpec{
	CmdAddVar:            {Name: "addVar", Params: []ParamKind{pT, pV}},
	CmdAddResult:         {Name: "addResult", Params: []ParamKind{pS}, Min: 1},
	CmdAddParam:          {Name: "addParam", Params: []ParamKind{pV, pT}},
	CmdGetQueryParamList: {Name: "getQueryParamList", Params: []ParamKind{pT}},
	CmdVariableToList:    {Name: "variableToList", Params: []ParamKind{pV, pU}},
	CmdItemFromList:      {Name: "itemFromList", Params: []ParamKind{pS, pV, pT}},
	CmdGetListLen:        {Name: "getListLen", Params: []ParamKind{pS, pT}},
	CmdAddvariableToJSON: {Name: "AddvariableToJSON", Params: []ParamKind{pV, pV, pU}},
	CmdVariableFromJSON:  {Name: "variableFromJSON", Params: []ParamKind{pS, pV, pT}},
	CmdReplace:           {Name: "replace", Params: []ParamKind{pV, pV, pV, pT}},
	CmdGetRegex:          {Name: "getRegex", Params: []ParamKind{pV, pV, pT}},
	CmdRandomString:      {Name: "randomString", Params: []ParamKind{pV, pV, pT}, Alt: []ParamKind{pV, pT}},
	CmdEncodeSHA256:      {Name: "encodeSHA256", Params: []ParamKind{pV, pT}},
	CmdEncodeMD5:         {Name: "encodeMD5", Params: []ParamKind{pV, pT}},
	CmdGetDateTime:       {Name: "getDateTime", Params: []ParamKind{pV, pV, pV, pT}},
	CmdGetTimeStamp:      {Name: "getTimeStamp", Params: []ParamKind{pV, pV, pV, pT}},
	CmdStampToDatetime:   {Name: "stampToDatetime", Params: []ParamKind{pV, pV, pV, pT}},
	CmdAddLog:            {Name: "addLog", Params: []ParamKind{pV}},
	CmdLog:               {Name: "log", Params: []ParamKind{pV}},
	CmdRequestGet:        {Name: "RequestGet", Params: []ParamKind{pV, pV, pV, pT}, Host: true, Context: true},
	CmdRequestPost:       {Name: "RequestPost", Params: []ParamKind{pV, pV, pV, pV, pT}, Host: true, Context: true},
	CmdOrmDirect:         {Name: "ormDirect", Params: []ParamKind{pV, pT}, Host: true, Context: true},
	CmdOrmCheckTable:     {Name: "ormCheckTable", Params: []ParamKind{pV, pT}, Host: true, Context: true},
	CmdOrmAccessSelect:   {Name: "ormAccessSelect", Params: []ParamKind{pV, pV, pT, pV}, Host: true, Context: true},
	CmdOrmAccessInsert:   {Name: "ormAccessInsert", Params: []ParamKind{pV, pV, pV, pT}, Host: true, Context: true},
	CmdOrmAccessUpdate:   {Name: "ormAccessUpdate", Params: []ParamKind{pV, pV, pV, pT, pV}, Host: true, Context: true},
	CmdAvapConnector:     {Name: "avapConnector", Params: []ParamKind{pV}, Host: true, Context: true},
	CmdRegisterEndpoint:  {Name: "registerEndpoint", Params: []ParamKind{pV, pV, pV, pV, pV, pV}, Host: true},
	CmdGo:                {Name: "go", Params: []ParamKind{pV}, Variadic: true, Host: true, Context: true},
	CmdGather:            {Name: "gather", Params: []ParamKind{pV, pV}, Context: true},
	CmdAsyncStore:        {Name: "<go_async>", Params: []ParamKind{pV, pV}},
	CmdGoStore:           {Name: "<go>", Params: []ParamKind{pV}},
	CmdMethod:            {Name: "<method>", Params: []ParamKind{pV, pV}, Variadic: true},
	CmdAsyncMark:         {Name: "<mark>"},
}

// Command returns the spec of command number id.
func Command(id int) *CommandSpec { return &commands[id] }

// LookupCommand returns the number of the command called name.
func LookupCommand(name string) (int, bool) {
	for i := range commands {
		if commands[i].Name == name {
			return i, true
		}
	}
	return -1, false
}
