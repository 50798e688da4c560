import { parseDocument, LineCounter } from 'yaml';
const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97+i)}: &${String.fromCharCode(97+i)} [${Array(9).fill('*'+String.fromCharCode(96+i)).join(',')}]`);
const text = bomb.join('\n');
for (const opts of [{}, {maxAliasCount: 16}]) {
  try { const d = parseDocument(text, {uniqueKeys:true}); console.log('errors', d.errors.length); const t=Date.now(); d.toJS(opts); console.log('ok', Date.now()-t); } catch (e) { console.log(e.constructor.name, e.message); }
}
// deep nesting
for (const n of [1000, 10000, 100000]) {
  const t = '['.repeat(n) + ']'.repeat(n);
  try { const d = parseDocument(t); console.log(n, 'errs', d.errors.length, d.errors[0]?.message?.slice(0,80)); d.toJS(); console.log('tojs ok'); } catch (e) { console.log(n, e.constructor.name, e.message.slice(0,100)); }
  const t2 = Array.from({length:n},(_, i)=>' '.repeat(i)+'a:').join('\n') + ' 1';
  try { const d = parseDocument(t2.slice(0, 300000)); console.log(n, 'block errs', d.errors.length); d.toJS(); console.log('tojs ok'); } catch (e) { console.log(n, 'block', e.constructor.name, e.message.slice(0,100)); }
}
