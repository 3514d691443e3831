package cluster

import "context"

// Records: small named values every instance reads, kept in one Redis hash
// per table (prefix+"rec:"+table), for operator state that must converge
// across instances (the Plan B switches). A change is announced on the bus
// by its writer; readers read the table, not the message, so that the
// last write wins everywhere, and read it again on OnResubscribe.

func (r *Redis) recordsKey(table string) string { return r.opts.Prefix + "rec:" + table }

// PutRecord sets table's record name to value.
func (r *Redis) PutRecord(ctx context.Context, table, name string, value []byte) error {
	if !r.Up() {
		return errDown
	}
	err := r.client.HSet(ctx, r.recordsKey(table), name, value).Err()
	r.ok(err)
	return err
}

// DeleteRecord removes table's record name.
func (r *Redis) DeleteRecord(ctx context.Context, table, name string) error {
	if !r.Up() {
		return errDown
	}
	err := r.client.HDel(ctx, r.recordsKey(table), name).Err()
	r.ok(err)
	return err
}

// Records returns every record of table.
func (r *Redis) Records(ctx context.Context, table string) (map[string]string, error) {
	if !r.Up() {
		return nil, errDown
	}
	m, err := r.client.HGetAll(ctx, r.recordsKey(table)).Result()
	if !r.ok(err) {
		return nil, err
	}
	return m, nil
}
