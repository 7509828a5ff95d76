package executor

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/avapmesh/avap/bus/breaker"
	"github.com/avapmesh/avap/vm"
)

// MaxSQLRows bounds the rows one statement may return to a script.
const MaxSQLRows = 100_000

// connectorKey marks the dict that stands for a connector object
// (avapConnector's result). Forging one grants nothing: every use checks
// the run's capability and the connector's configuration.
const connectorKey = "__connector__"

func connectorValue(name string) vm.Value {
	d := vm.NewDict(1)
	d.Set(connectorKey, vm.String(name))
	return d
}

func connectorOf(v vm.Value) (string, bool) {
	if v.Kind() != vm.KindDict {
		return "", false
	}
	n, ok := v.Get(connectorKey)
	if !ok || n.Kind() != vm.KindString {
		return "", false
	}
	return n.AsString(), true
}

// ErrNoConnector is wrapped by the error of a command naming a connector
// that is not configured (or of ormDirect... when there is no default).
var ErrNoConnector = errors.New("connector not configured")

// pool returns the pool of connector name, creating it on first use.
func (h *Host) pool(name string) (*pgxpool.Pool, ConnectorOptions, error) {
	c, ok := h.opts.Connectors[name]
	if !ok {
		if name == "" {
			return nil, c, fmt.Errorf("%w: no default connector (set executor.default_connector)", ErrNoConnector)
		}
		return nil, c, fmt.Errorf("%w: %q", ErrNoConnector, name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, c, errors.New("executor host closed")
	}
	if p := h.pools[name]; p != nil {
		return p, c, nil
	}
	cfg, err := pgxpool.ParseConfig(c.DSN)
	if err != nil {
		return nil, c, fmt.Errorf("connector %q: bad dsn", name)
	}
	cfg.MaxConns = DefaultMaxConns
	if c.MaxConns > 0 {
		cfg.MaxConns = c.MaxConns
	}
	// Describe each statement once per connection (types of $n come from
	// the server) and keep no server-side prepared statements around.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	cfg.ConnConfig.RuntimeParams["application_name"] = "avap-executor"
	cfg.AfterRelease = resetSession
	cfg.BeforeConnect = c.BeforeConnect
	p, err := pgxpool.NewWithConfig(context.WithoutCancel(context.Background()), cfg)
	if err != nil {
		return nil, c, fmt.Errorf("connector %q: %w", name, err)
	}
	h.pools[name] = p
	return p, c, nil
}

// resetSessionTimeout bounds the DISCARD ALL of a released connection.
const resetSessionTimeout = 2 * time.Second

// resetSession is the pool's AfterRelease hook: a connection goes back to
// the pool only after DISCARD ALL (RESET ALL, DEALLOCATE ALL, CLOSE ALL,
// UNLISTEN *, pg_advisory_unlock_all, DISCARD TEMP/SEQUENCES/PLANS), so a
// SET, temp table, prepared statement, cursor, listen or advisory lock of
// one statement never reaches the next user of the connection — another
// run, or another script. Runtime parameters of the DSN (search_path,
// application_name) are session defaults and survive. A connection still
// in a transaction, or whose reset fails, is closed instead of reused.
// pgx's client-side statement description cache is kept.
func resetSession(c *pgx.Conn) bool {
	if c.PgConn().TxStatus() != 'I' {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), resetSessionTimeout)
	defer cancel()
	_, err := c.PgConn().Exec(ctx, "DISCARD ALL").ReadAll()
	return err == nil
}

// inTx runs fn in a transaction of connector name: READ ONLY for a
// read-only connector, with statement_timeout the smaller of the
// connector's and the time left before the run's deadline.
func (h *Host) inTx(ctx context.Context, name string, fn func(pgx.Tx) error) error {
	p, c, err := h.pool(name)
	if err != nil {
		return err
	}
	timeout := c.StatementTimeout
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return context.DeadlineExceeded
		}
		// The context ends the statement at the deadline (pgx cancels it);
		// the margin keeps the server's timeout from firing first, so the
		// run reports its time limit rather than a statement error.
		timeout = min(timeout, left+250*time.Millisecond)
	}
	mode := pgx.ReadWrite
	if c.ReadOnly {
		mode = pgx.ReadOnly
	}
	// The connector's breaker ("sql:<name>") guards acquiring a connection
	// and BEGIN — the part that fails when the database is unreachable —
	// so a dead database fails fast; a script's bad SQL never trips it.
	var tx pgx.Tx
	err = h.sqlBreaker(name).Do(func() error {
		var err error
		tx, err = p.BeginTx(ctx, pgx.TxOptions{AccessMode: mode})
		return err
	})
	if errors.Is(err, breaker.ErrOpen) {
		return fmt.Errorf("connector %q: circuit open: %w", name, err)
	}
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = tx.Rollback(rctx) // no-op after Commit
		cancel()
	}()
	ms := max(timeout.Milliseconds(), 1)
	if _, err := tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true)", strconv.FormatInt(ms, 10)); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return tx.Commit(ctx)
}

// query runs one statement and returns its rows as a list of dicts, or
// "Success: <rows affected>" for a statement that returns no rows.
func (h *Host) query(ctx context.Context, name, sql string, args []any) (vm.Value, error) {
	var out vm.Value
	err := h.inTx(ctx, name, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if len(rows.FieldDescriptions()) == 0 {
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				return err
			}
			out = vm.String("Success: " + strconv.FormatInt(rows.CommandTag().RowsAffected(), 10))
			return nil
		}
		out, err = rowsValue(rows)
		return err
	})
	return out, err
}

func (h *Host) sqlCommand(ctx context.Context, command string, args []vm.Value) (vm.Value, error) {
	switch command {
	case "avapConnector":
		a := arg(args, 0)
		if a.Kind() != vm.KindString {
			return vm.None, errors.New("avapConnector needs a connector name")
		}
		name := a.AsString()
		if _, ok := h.opts.Connectors[name]; !ok {
			return vm.None, fmt.Errorf("%w: %q", ErrNoConnector, name)
		}
		return connectorValue(name), nil
	case "ormDirect":
		return h.ormDirect(ctx, arg(args, 0))
	case "ormCheckTable":
		table, err := tableIdent(arg(args, 0))
		if err != nil {
			return vm.None, err
		}
		var exists bool
		err = h.inTx(ctx, h.defaultSQL, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists)
		})
		if err != nil {
			return vm.None, err
		}
		if exists {
			return vm.String("True"), nil
		}
		return vm.String("False"), nil
	case "ormAccessSelect":
		return h.ormSelect(ctx, arg(args, 0), arg(args, 1), arg(args, 3))
	case "ormAccessInsert":
		return h.ormInsert(ctx, arg(args, 0), arg(args, 1), arg(args, 2))
	case "ormAccessUpdate":
		return h.ormUpdate(ctx, arg(args, 0), arg(args, 1), arg(args, 2), arg(args, 4))
	}
	return vm.None, fmt.Errorf("%w: %s", vm.ErrUnknownCommand, command)
}

// connectorMethod runs db.query(sql, args...) on a connector object.
func (h *Host) connectorMethod(ctx context.Context, method string, recv vm.Value, args []vm.Value) (vm.Value, error) {
	name, _ := connectorOf(recv)
	switch method {
	case "query":
		sql := arg(args, 0)
		if sql.Kind() != vm.KindString || strings.TrimSpace(sql.AsString()) == "" {
			return vm.None, errors.New("query needs the SQL text")
		}
		params := make([]any, 0, len(args)-1)
		for _, a := range args[1:] {
			params = append(params, sqlArg(a))
		}
		return h.query(ctx, name, sql.AsString(), params)
	}
	return vm.None, fmt.Errorf("connector has no method %s()", method)
}

// ormDirect(sql, target) runs raw SQL on the default connector (LANGUAGE.md
// §12.9): rows for a query, "Success: <n>" otherwise; a database error is
// not raised but returned as {"error": "<text>"}, as the reference does.
// Backticks in the text become single quotes, as the reference does.
func (h *Host) ormDirect(ctx context.Context, sqlv vm.Value) (vm.Value, error) {
	if sqlv.Kind() != vm.KindString || strings.TrimSpace(sqlv.AsString()) == "" {
		return vm.None, errors.New("ormDirect needs the SQL text")
	}
	sql := strings.ReplaceAll(sqlv.AsString(), "`", "'")
	v, err := h.query(ctx, h.defaultSQL, sql, nil)
	if err == nil {
		return v, nil
	}
	if ctx.Err() != nil || errors.Is(err, ErrNoConnector) {
		return vm.None, err
	}
	d := vm.NewDict(1)
	d.Set("error", vm.String(err.Error()))
	return d, nil
}

// ormSelect is ormAccessSelect(fields, table, target, selector).
func (h *Host) ormSelect(ctx context.Context, fields, table, selv vm.Value) (vm.Value, error) {
	cols, err := fieldList(fields, true)
	if err != nil {
		return vm.None, err
	}
	t, err := tableIdent(table)
	if err != nil {
		return vm.None, err
	}
	sel, err := parseSelector(selv, 1)
	if err != nil {
		return vm.None, err
	}
	sql := "SELECT " + colText(cols) + " FROM " + t
	if sel.where != "" {
		sql += " WHERE " + sel.where
	}
	if sel.tail != "" {
		sql += " " + sel.tail
	}
	return h.query(ctx, h.defaultSQL, sql, sel.args)
}

// ormInsert is ormAccessInsert(fields, fieldsValuesVariables, table,
// target); it returns the inserted rows (RETURNING *).
func (h *Host) ormInsert(ctx context.Context, fields, values, table vm.Value) (vm.Value, error) {
	cols, err := fieldList(fields, false)
	if err != nil {
		return vm.None, err
	}
	vals, err := fieldValues(ctx, cols, values)
	if err != nil {
		return vm.None, err
	}
	t, err := tableIdent(table)
	if err != nil {
		return vm.None, err
	}
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	sql := "INSERT INTO " + t + " (" + colText(cols) + ") VALUES (" + strings.Join(ph, ", ") + ") RETURNING *"
	return h.query(ctx, h.defaultSQL, sql, vals)
}

// ormUpdate is ormAccessUpdate(fields, fieldsValuesVariables, table,
// target, selector); it returns the updated rows (RETURNING *). An empty
// selector is refused (use ormDirect to update every row).
func (h *Host) ormUpdate(ctx context.Context, fields, values, table, selv vm.Value) (vm.Value, error) {
	cols, err := fieldList(fields, false)
	if err != nil {
		return vm.None, err
	}
	vals, err := fieldValues(ctx, cols, values)
	if err != nil {
		return vm.None, err
	}
	t, err := tableIdent(table)
	if err != nil {
		return vm.None, err
	}
	sel, err := parseSelector(selv, len(cols)+1)
	if err != nil {
		return vm.None, err
	}
	if sel.where == "" {
		return vm.None, errors.New("ormAccessUpdate needs a selector (use ormDirect to update every row)")
	}
	if sel.tail != "" {
		return vm.None, errors.New("ormAccessUpdate: ORDER BY, LIMIT and OFFSET are not allowed in its selector")
	}
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = $" + strconv.Itoa(i+1)
	}
	sql := "UPDATE " + t + " SET " + strings.Join(set, ", ") + " WHERE " + sel.where + " RETURNING *"
	return h.query(ctx, h.defaultSQL, sql, append(vals, sel.args...))
}

// fieldList parses "a, b" (or a list of names) into quoted columns; nil
// means "*" (allowed when star is set).
func fieldList(v vm.Value, star bool) ([]string, error) {
	var names []string
	switch v.Kind() {
	case vm.KindList:
		for i := range v.Len() {
			e := v.Index(i)
			if e.Kind() != vm.KindString {
				return nil, errors.New("fields must be names")
			}
			names = append(names, e.AsString())
		}
	case vm.KindString:
		s := strings.TrimSpace(v.AsString())
		if s != "" {
			names = strings.Split(s, ",")
		}
	case vm.KindNone:
	default:
		return nil, errors.New("fields must be a comma-separated list of columns")
	}
	if len(names) == 0 || len(names) == 1 && strings.TrimSpace(names[0]) == "*" {
		if !star {
			return nil, errors.New("fields must name the columns to write")
		}
		return nil, nil
	}
	cols := make([]string, len(names))
	for i, n := range names {
		c, err := columnIdent(n)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	return cols, nil
}

func colText(cols []string) string {
	if cols == nil {
		return "*"
	}
	return strings.Join(cols, ", ")
}

// tableIdent quotes "table" or "schema.table".
func tableIdent(v vm.Value) (string, error) {
	if v.Kind() != vm.KindString || strings.TrimSpace(v.AsString()) == "" {
		return "", errors.New("table must be a name")
	}
	return columnIdent(v.AsString())
}

// fieldValues returns the values written to cols: a list (by position), a
// dict (by column name), or the text "A,B" naming one variable per column
// (LANGUAGE.md §12.9, fieldsValuesVariables); with a single column, text
// that is not the name of a set variable is the value itself.
func fieldValues(ctx context.Context, cols []string, v vm.Value) ([]any, error) {
	switch v.Kind() {
	case vm.KindList:
		if v.Len() != len(cols) {
			return nil, fmt.Errorf("%d fields but %d values", len(cols), v.Len())
		}
		out := make([]any, len(cols))
		for i := range out {
			out[i] = sqlArg(v.Index(i))
		}
		return out, nil
	case vm.KindDict:
		out := make([]any, len(cols))
		for i, c := range cols {
			x, ok := v.Get(strings.Trim(c, `"`))
			if !ok {
				return nil, fmt.Errorf("no value for field %s", c)
			}
			out[i] = sqlArg(x)
		}
		return out, nil
	case vm.KindString:
		names := strings.Split(v.AsString(), ",")
		if len(names) == len(cols) {
			out := make([]any, len(cols))
			all := true
			for i, n := range names {
				x, ok := vm.Variable(ctx, strings.TrimSpace(n))
				if !ok {
					all = false
					break
				}
				out[i] = sqlArg(x)
			}
			if all {
				return out, nil
			}
		}
		if len(cols) == 1 {
			return []any{v.AsString()}, nil
		}
		return nil, fmt.Errorf("values %q must name %d set variables (or be a list)", v.AsString(), len(cols))
	}
	if len(cols) == 1 {
		return []any{sqlArg(v)}, nil
	}
	return nil, fmt.Errorf("values must be a list, a dict or variable names, not %s", v.Kind())
}

// sqlArg converts a script value to a statement parameter.
func sqlArg(v vm.Value) any { return v.ToGo() }

// rowsValue reads every row as a dict of JSON-compatible values.
func rowsValue(rows pgx.Rows) (vm.Value, error) {
	fds := rows.FieldDescriptions()
	var out []vm.Value
	for rows.Next() {
		if len(out) >= MaxSQLRows {
			return vm.None, fmt.Errorf("more than %d rows", MaxSQLRows)
		}
		vals, err := rows.Values()
		if err != nil {
			return vm.None, err
		}
		d := vm.NewDict(len(fds))
		for i, fd := range fds {
			d.Set(fd.Name, sqlValue(vals[i], fd.DataTypeOID))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return vm.None, err
	}
	if out == nil {
		out = []vm.Value{}
	}
	return vm.NewList(out), nil
}

// sqlValue maps a decoded column to a script value: integers stay int,
// numeric becomes int when whole and within int64 (else float), timestamps
// RFC 3339 text, dates YYYY-MM-DD, bytea base64, uuid its text, json its
// value, arrays lists, and other types their text form.
func sqlValue(x any, oid uint32) vm.Value {
	switch x := x.(type) {
	case nil:
		return vm.None
	case bool:
		return vm.Bool(x)
	case int16:
		return vm.Int(int64(x))
	case int32:
		return vm.Int(int64(x))
	case int64:
		return vm.Int(x)
	case float32:
		return vm.Float(float64(x))
	case float64:
		return vm.Float(x)
	case string:
		return vm.String(x)
	case []byte:
		return vm.String(base64.StdEncoding.EncodeToString(x))
	case time.Time:
		if oid == pgtype.DateOID {
			return vm.String(x.Format(time.DateOnly))
		}
		return vm.String(x.Format(time.RFC3339Nano))
	case [16]byte:
		return vm.String(fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]))
	case pgtype.Numeric:
		return numericValue(x)
	case []any:
		el := make([]vm.Value, len(x))
		for i, e := range x {
			el[i] = sqlValue(e, 0)
		}
		return vm.NewList(el)
	case map[string]any:
		v, err := vm.FromGo(x)
		if err != nil {
			return vm.String(fmt.Sprint(x))
		}
		return v
	case fmt.Stringer:
		return vm.String(x.String())
	}
	if v, err := vm.FromGo(x); err == nil {
		return v
	}
	return vm.String(fmt.Sprint(x))
}

func numericValue(n pgtype.Numeric) vm.Value {
	if !n.Valid {
		return vm.None
	}
	if n.NaN {
		return vm.Float(math.NaN())
	}
	if n.Exp >= 0 && n.InfinityModifier == pgtype.Finite {
		i := new(big.Int).Set(n.Int)
		i.Mul(i, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.Exp)), nil))
		if i.IsInt64() {
			return vm.Int(i.Int64())
		}
	}
	f, err := n.Float64Value()
	if err != nil || !f.Valid {
		return vm.None
	}
	return vm.Float(f.Float64)
}
