// The selected ICE candidate pair of an RTCPeerConnection, from getStats():
// { local: {address, port, type}, remote: {address, port, type}, rtt } or null.
export async function selectedPair(pc) {
  if (!pc) return null;
  const report = await pc.getStats();
  let pair = null;
  for (const s of report.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      pair = report.get(s.selectedCandidatePairId);
      break;
    }
  }
  if (!pair) {
    for (const s of report.values()) {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) pair = s;
    }
  }
  if (!pair) return null;
  const side = (id) => {
    const c = report.get(id);
    return c ? { address: c.address ?? c.ip, port: c.port, type: c.candidateType } : null;
  };
  return {
    local: side(pair.localCandidateId),
    remote: side(pair.remoteCandidateId),
    rtt: pair.currentRoundTripTime,
  };
}
