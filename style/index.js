import './base.css';
import './carto3.css';
