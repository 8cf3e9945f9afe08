// Package b24redis shares the b24 client's limits and OAuth tokens between
// processes through Redis.
package b24redis

import _ "github.com/redis/go-redis/v9"
