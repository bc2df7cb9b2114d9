package chain

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Network holds the per-network constants that turn slots into epochs and
// times and that pick address prefixes. The values for mainnet, preprod and
// preview come from each network's published Byron and Shelley genesis files.
type Network struct {
	Name string
	// Magic is the network magic used by the node-to-client handshake.
	Magic uint32
	// NetworkID is the id in Shelley address headers: 1 mainnet, 0 testnets.
	NetworkID uint8
	// SystemStart is the wall-clock time of slot 0.
	SystemStart time.Time
	// ByronSlotLength and ByronEpochLength describe the Byron era; ShelleyStartSlot
	// and ShelleyStartEpoch are where it ends (both zero for a network without Byron).
	ByronSlotLength   time.Duration
	ByronEpochLength  uint64
	ShelleyStartSlot  uint64
	ShelleyStartEpoch uint64
	// SlotLength and EpochLength apply from Shelley on.
	SlotLength  time.Duration
	EpochLength uint64
	// SecurityParam is k: blocks deeper than k below the tip are immutable.
	SecurityParam uint64
	// Known is false for a network whose genesis is not known (times and epochs stay NULL).
	Known bool
}

// The networks Nectar ships constants for.
var (
	Mainnet = Network{
		Name: "mainnet", Magic: 764824073, NetworkID: 1,
		SystemStart:     time.Date(2017, 9, 23, 21, 44, 51, 0, time.UTC),
		ByronSlotLength: 20 * time.Second, ByronEpochLength: 21600,
		ShelleyStartSlot: 4492800, ShelleyStartEpoch: 208,
		SlotLength: time.Second, EpochLength: 432000, SecurityParam: 2160, Known: true,
	}
	Preprod = Network{
		Name: "preprod", Magic: 1, NetworkID: 0,
		SystemStart:     time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC),
		ByronSlotLength: 20 * time.Second, ByronEpochLength: 21600,
		ShelleyStartSlot: 86400, ShelleyStartEpoch: 4,
		SlotLength: time.Second, EpochLength: 432000, SecurityParam: 2160, Known: true,
	}
	Preview = Network{
		Name: "preview", Magic: 2, NetworkID: 0,
		SystemStart: time.Date(2022, 10, 25, 0, 0, 0, 0, time.UTC),
		SlotLength:  time.Second, EpochLength: 86400, SecurityParam: 432, Known: true,
	}
)

// NetworkByName returns the shipped constants for mainnet, preprod or preview.
func NetworkByName(name string) (Network, error) {
	switch name {
	case "mainnet":
		return Mainnet, nil
	case "preprod":
		return Preprod, nil
	case "preview":
		return Preview, nil
	}
	return Network{}, fmt.Errorf("unknown network %q (want mainnet, preprod or preview, or give a genesis file)", name)
}

// UnknownNetwork is a network whose genesis is not known: blocks decode, but
// epoch and time stay NULL. testnet selects the address network id.
func UnknownNetwork(name string, testnet bool) Network {
	n := Network{Name: name, NetworkID: 1, SecurityParam: 2160}
	if testnet {
		n.NetworkID = 0
	}
	return n
}

// Epoch returns the epoch and the slot within it, or ok=false when the network's genesis is unknown.
func (n Network) Epoch(slot uint64) (epoch, epochSlot uint64, ok bool) {
	if !n.Known || n.EpochLength == 0 {
		return 0, 0, false
	}
	if slot < n.ShelleyStartSlot {
		return slot / n.ByronEpochLength, slot % n.ByronEpochLength, true
	}
	s := slot - n.ShelleyStartSlot
	return n.ShelleyStartEpoch + s/n.EpochLength, s % n.EpochLength, true
}

// SlotTime returns the wall-clock start of a slot, or ok=false when the network's genesis is unknown.
func (n Network) SlotTime(slot uint64) (time.Time, bool) {
	if !n.Known {
		return time.Time{}, false
	}
	if slot < n.ShelleyStartSlot {
		return n.SystemStart.Add(time.Duration(slot) * n.ByronSlotLength), true
	}
	byron := time.Duration(n.ShelleyStartSlot) * n.ByronSlotLength
	return n.SystemStart.Add(byron + time.Duration(slot-n.ShelleyStartSlot)*n.SlotLength), true
}

// shelleyGenesis is the part of a Shelley genesis file Nectar reads.
type shelleyGenesis struct {
	NetworkMagic  uint32    `json:"networkMagic"`
	NetworkID     string    `json:"networkId"`
	SystemStart   time.Time `json:"systemStart"`
	SlotLength    float64   `json:"slotLength"`
	EpochLength   uint64    `json:"epochLength"`
	SecurityParam uint64    `json:"securityParam"`
}

// NetworkFromGenesis reads a Shelley genesis file for a network without Byron
// blocks (as preview and every new testnet). byronEpochs > 0 describes a
// network that starts with that many 20-second-slot Byron epochs of 21600 slots.
func NetworkFromGenesis(name, path string, byronEpochs uint64) (Network, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Network{}, fmt.Errorf("read genesis %s: %w", path, err)
	}
	var g shelleyGenesis
	if err := json.Unmarshal(raw, &g); err != nil {
		return Network{}, fmt.Errorf("parse genesis %s: %w", path, err)
	}
	if g.EpochLength == 0 || g.SlotLength <= 0 || g.SecurityParam == 0 || g.SystemStart.IsZero() {
		return Network{}, fmt.Errorf("genesis %s: epochLength, slotLength, securityParam and systemStart are required", path)
	}
	n := Network{
		Name: name, Magic: g.NetworkMagic, NetworkID: 0,
		SystemStart: g.SystemStart.UTC(),
		SlotLength:  time.Duration(g.SlotLength * float64(time.Second)),
		EpochLength: g.EpochLength, SecurityParam: g.SecurityParam, Known: true,
	}
	if g.NetworkID == "Mainnet" {
		n.NetworkID = 1
	}
	if byronEpochs > 0 {
		n.ByronSlotLength, n.ByronEpochLength = 20*time.Second, 21600
		n.ShelleyStartEpoch, n.ShelleyStartSlot = byronEpochs, byronEpochs*21600
	}
	return n, nil
}
