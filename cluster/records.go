package cluster

import "context"

// Records: small named values every instance reads, kept in one Redis hash
// per table (prefix+"rec:"+table), for operator state that must converge
// across instances (the Plan B switches). A change is announced on the bus
// by its writer; readers read the table, not the message, so that the
// last write wins everywhere, and read it again on OnResubscribe.
//
// Every write also sets the table's sentinel field, so that a reader can
// tell a table whose records were all deleted (the sentinel stays) from
// one Redis lost (a restart without persistence, a failover to an empty
// replica: no sentinel), which the instances should write again from what
// they hold rather than take for "everything was cleared".

func (r *Redis) recordsKey(table string) string { return r.opts.Prefix + "rec:" + table }

// recordsSentinel is the field every written table has.
const recordsSentinel = "\x00kept"

// PutRecord sets table's record name to value.
func (r *Redis) PutRecord(ctx context.Context, table, name string, value []byte) error {
	if !r.Up() {
		return errDown
	}
	err := r.client.HSet(ctx, r.recordsKey(table), name, value, recordsSentinel, "1").Err()
	r.ok(err)
	return err
}

// DeleteRecord removes table's record name.
func (r *Redis) DeleteRecord(ctx context.Context, table, name string) error {
	if !r.Up() {
		return errDown
	}
	key := r.recordsKey(table)
	pipe := r.client.TxPipeline()
	pipe.HDel(ctx, key, name)
	pipe.HSet(ctx, key, recordsSentinel, "1")
	_, err := pipe.Exec(ctx)
	r.ok(err)
	return err
}

// Records returns every record of table, and whether the table was
// written before (false: Redis has no trace of it, see above).
func (r *Redis) Records(ctx context.Context, table string) (recs map[string]string, written bool, err error) {
	if !r.Up() {
		return nil, false, errDown
	}
	m, err := r.client.HGetAll(ctx, r.recordsKey(table)).Result()
	if !r.ok(err) {
		return nil, false, err
	}
	_, written = m[recordsSentinel]
	delete(m, recordsSentinel)
	return m, written, nil
}

// RestoreRecords writes recs into table, and its sentinel: the records an
// instance holds, into a table Redis lost.
func (r *Redis) RestoreRecords(ctx context.Context, table string, recs map[string][]byte) error {
	if !r.Up() {
		return errDown
	}
	args := []any{recordsSentinel, "1"}
	for name, v := range recs {
		args = append(args, name, v)
	}
	err := r.client.HSet(ctx, r.recordsKey(table), args...).Err()
	r.ok(err)
	return err
}
