package driver

// SetSumPasses makes at most n PartSums passes run at once, for a test,
// and returns a func that restores the bound of this machine.
func SetSumPasses(n int) (restore func()) {
	old := sumPasses
	sumPasses = make(chan struct{}, n)
	return func() { sumPasses = old }
}
