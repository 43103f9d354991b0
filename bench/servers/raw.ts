// raw node:http serving the baseline handler (bench/servers/raw-handler.ts).
import http from 'node:http';
import { rawHandler } from './raw-handler.ts';

http.createServer(rawHandler).listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
