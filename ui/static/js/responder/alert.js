// Alerts that need no audio file: a WebAudio beep and the phone's vibration motor.

let audio = null;

/** Browsers allow sound only after a tap: call this from a tap handler. True when sound is ready. */
export function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!audio && Context) audio = new Context();
  if (audio && audio.state === 'suspended') audio.resume();
  return Boolean(audio);
}

export const audioReady = () => Boolean(audio) && audio.state === 'running';

export function beep() {
  if (!audio) return false;
  const start = audio.currentTime + 0.05;
  for (let i = 0; i < 3; i += 1) {
    const at = start + i * 0.35;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'square';
    osc.frequency.value = i % 2 ? 880 : 1320;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start(at);
    osc.stop(at + 0.3);
  }
  return true;
}

export function vibrate() {
  if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
}
