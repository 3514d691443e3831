package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// go-redis logs each failed dial and pool event to stderr through one
// process-wide logger. While Redis is down that is a line per probe (and
// per request until the breaker opens): the store's own state changes are
// the lines an operator needs, so go-redis's go to slog at debug level.
var quietRedisLog sync.Once

type redisDebugLog struct{}

func (redisDebugLog) Printf(ctx context.Context, format string, v ...any) {
	if l := slog.Default(); l.Enabled(ctx, slog.LevelDebug) {
		l.LogAttrs(ctx, slog.LevelDebug, "go-redis: "+fmt.Sprintf(format, v...))
	}
}

func quietGoRedis() { quietRedisLog.Do(func() { redis.SetLogger(redisDebugLog{}) }) }
