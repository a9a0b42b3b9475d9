package store

import "sync"

// Store is a concurrent map.
type Store struct {
	mu sync.Mutex
	m  map[string]int
}

type Getter interface {
	Get(key string) int
}

// Get returns the value for key.
func (s *Store) Get(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

func New() *Store {
	return &Store{m: map[string]int{}}
}
