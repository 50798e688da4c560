package main

// titles is the example catalog's tracks (examples/data/catalog.js), by id: the test checks they match.
var titles = map[int]string{
	101: "Midnight Drive",
	102: "Chrome Hearts",
	103: "Low Tide",
	104: "Glass Garden",
	105: "Brass Parade",
	106: "Blue Hour",
	107: "Overdrive",
	108: "Paper Planes",
	109: "Sunday Sketch",
	110: "Tape Hiss",
}
